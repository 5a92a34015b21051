"""``python -m precompute.fetch_data --out DIR``: download the Tatoeba test set from LASER's public repository.

For machines with internet access (this project never commits the data). Files already present are kept;
each file is written to a temporary name and renamed, so an interrupted download leaves no partial file.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request
from pathlib import Path

from core.datasets.tatoeba import tatoeba_file

BASE_URL = "https://raw.githubusercontent.com/facebookresearch/LASER/main/data/tatoeba/v1/"


def fetch(out: Path, langs: list[str], timeout: float = 30.0) -> int:
    """Download both sides of each language into ``out``; returns the number of files fetched."""
    out.mkdir(parents=True, exist_ok=True)
    fetched = 0
    for i, lang in enumerate(langs, 1):
        for side in (lang, "eng"):
            target = tatoeba_file(out, lang, side)
            if target.is_file() and target.stat().st_size:
                continue
            tmp = target.with_suffix(target.suffix + ".part")
            with urllib.request.urlopen(BASE_URL + target.name, timeout=timeout) as resp:
                tmp.write_bytes(resp.read())
            tmp.replace(target)
            fetched += 1
        print(f"[{i}/{len(langs)}] {lang}", flush=True)
    return fetched


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; exit 2 with one line when the network or a file is unavailable."""
    from core.languages import load_languages

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument(
        "--langs", nargs="*", help="ISO 639-3 codes (default: every language in data/languages.csv)"
    )
    args = ap.parse_args(argv)
    langs = args.langs or sorted(load_languages())
    try:
        n = fetch(args.out, langs)
    except OSError as exc:
        print(
            f"error: cannot download the Tatoeba files ({exc}); see ../shared/data/tatoeba/DATA.md",
            file=sys.stderr,
        )
        return 2
    print(f"{n} files fetched into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
