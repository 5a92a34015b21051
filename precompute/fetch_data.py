"""``python -m precompute.fetch_data --out DIR``: download the Tatoeba test set from LASER's public repository.

For machines with internet access (this project never commits the data). Files already present are kept
and nothing is downloaded when none is missing. Both sides of a language are downloaded to temporary names,
checked (non-empty UTF-8, the same number of lines, and the size, line count and SHA-256 listed for them in
``data/tatoeba_v1_files.csv``), and only then renamed into place: a failed or interrupted download leaves
no partial file. When the server cannot be reached, one line says where to put the data instead.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import http.client
import io
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.datasets.tatoeba import tatoeba_file
from core.errors import DataError
from core.paths import REPO_ROOT
from precompute.errors import run_cli

BASE_URL = "https://raw.githubusercontent.com/facebookresearch/LASER/main/data/tatoeba/v1/"
MANIFEST = REPO_ROOT / "data" / "tatoeba_v1_files.csv"
URL_VARIABLE = "CLIR_DATA_URL"  # another server holding the same files (a mirror; the tests' local server)


class DataUnreachable(DataError):
    """The download server cannot be reached (no network, DNS failure, refused connection, timeout)."""


@dataclass(frozen=True)
class FileFacts:
    """What the manifest records of one file: lines as the loader counts them, bytes and SHA-256."""

    lines: int
    size: int
    sha256: str


def file_facts(data: bytes, name: str = "file") -> FileFacts:
    """The facts of ``data``; lines are counted exactly as :func:`core.datasets.load_tatoeba` splits them.

    Raises:
        DataError: ``data`` is not UTF-8.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    # newline="" is the loader's setting: \n, \r\n and a lone \r each end a line, nothing else does.
    lines = sum(1 for _ in io.StringIO(text, newline=""))
    return FileFacts(lines, len(data), hashlib.sha256(data).hexdigest())


def load_manifest(path: Path = MANIFEST) -> dict[str, FileFacts]:
    """File name -> facts from a manifest CSV (columns file, lines, bytes, sha256); {} when it is absent."""
    if not Path(path).is_file():
        return {}
    with open(path, encoding="utf-8", newline="") as fh:
        return {
            r["file"]: FileFacts(int(r["lines"]), int(r["bytes"]), r["sha256"]) for r in csv.DictReader(fh)
        }


def write_manifest(folder: Path, path: Path = MANIFEST) -> int:
    """Write the manifest of every Tatoeba file in ``folder`` (sorted by name) to ``path``; returns the count."""
    files = sorted(Path(folder).glob("tatoeba.*-eng.*"))
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["file", "lines", "bytes", "sha256"])
        for f in files:
            facts = file_facts(f.read_bytes(), f.name)
            out.writerow([f.name, facts.lines, facts.size, facts.sha256])
    return len(files)


def missing_files(out: Path, langs: Iterable[str]) -> list[Path]:
    """The files of ``langs`` (both sides) that are absent or empty in ``out``, in order."""
    return [
        f
        for lang in langs
        for f in (tatoeba_file(out, lang, lang), tatoeba_file(out, lang, "eng"))
        if not (f.is_file() and f.stat().st_size)
    ]


def check_pair(lang: str, sides: Mapping[str, bytes], manifest: Mapping[str, FileFacts]) -> None:
    """Accept the two sides of ``lang`` (file name -> bytes) or raise naming the first problem.

    Guarantees on return: both sides are non-empty UTF-8 with the same number of lines, and each side that
    the manifest lists has exactly its recorded line count, size and SHA-256.

    Raises:
        DataError: an empty, non-UTF-8, mismatched or unlisted-size file.
    """
    facts = {}
    for name, data in sides.items():
        if not data:
            raise DataError(f"{name}: empty")
        facts[name] = got = file_facts(data, name)
        want = manifest.get(name)
        if want is not None and got != want:
            raise DataError(
                f"{name}: {got.lines} lines, {got.size} bytes, sha256 {got.sha256[:12]}; "
                f"expected {want.lines} lines, {want.size} bytes, sha256 {want.sha256[:12]}"
            )
    (a, fa), (b, fb) = facts.items()
    if fa.lines != fb.lines:
        raise DataError(f"{lang}: {a} has {fa.lines} lines but {b} has {fb.lines}")


def _download(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()
    except urllib.error.HTTPError as exc:
        # The server answered: the file is missing there, which is a data problem, not a network one.
        raise DataError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataUnreachable(f"cannot reach {url.rsplit('/', 1)[0]}/ ({reason})") from None
    except http.client.HTTPException as exc:
        raise DataError(f"{url}: transfer broken off ({type(exc).__name__})") from None


def fetch(
    out: Path,
    langs: list[str],
    *,
    base_url: str = BASE_URL,
    manifest: Mapping[str, FileFacts] | None = None,
    timeout: float = 10.0,
    progress: bool = True,
) -> int:
    """Download the missing sides of each language into ``out``; returns the number of files written.

    Guarantees: a file already present and non-empty is kept and not downloaded; a language's new files
    appear only after :func:`check_pair` accepted both sides, written under a temporary name and renamed, so
    ``out`` never holds a partial or unverified download. A progress bar over files goes to stderr.

    Raises:
        DataUnreachable: the server cannot be reached (after ``timeout`` seconds at most per request).
        DataError: the server lacks a file, or a downloaded pair fails :func:`check_pair` (nothing kept).
    """
    from tqdm import tqdm

    manifest = load_manifest() if manifest is None else manifest
    todo = missing_files(out, langs)
    if not todo:
        return 0
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    fetched = 0
    bar = None  # opened after the first file arrived, so an unreachable server prints only its one line
    try:
        for lang in langs:
            pair = [tatoeba_file(out, lang, lang), tatoeba_file(out, lang, "eng")]
            new = [f for f in pair if f in todo]
            if not new:
                continue
            sides = {}
            for f in pair:
                if f not in new:
                    sides[f.name] = f.read_bytes()
                    continue
                sides[f.name] = _download(base_url + f.name, timeout)
                if bar is None:
                    bar = tqdm(
                        total=len(todo), unit="file", desc="Tatoeba", file=sys.stderr, disable=not progress
                    )
                bar.update(1)
            check_pair(lang, sides, manifest)
            _publish({f: sides[f.name] for f in new})
            fetched += len(new)
    finally:
        if bar is not None:
            bar.close()
    return fetched


def _publish(files: Mapping[Path, bytes]) -> None:
    """Write every file under a temporary name, then rename them all; no .part file survives a failure."""
    parts = {f: f.with_name(f.name + ".part") for f in files}
    try:
        next(iter(files)).parent.mkdir(parents=True, exist_ok=True)
        for f, part in parts.items():
            part.write_bytes(files[f])
        for f, part in parts.items():
            part.replace(f)
    finally:
        for part in parts.values():
            part.unlink(missing_ok=True)


def where_to_put(out: Path) -> str:
    """The one line telling a user without network access where the data goes."""
    return (
        f"put the Tatoeba v1 files (tatoeba.XXX-eng.XXX, tatoeba.XXX-eng.eng) in {out.resolve()} "
        f"or set CLIR_DATA_DIR to a folder that holds them (see README)"
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; exit 2 with one line when the network or a file is unavailable."""
    from core.languages import load_languages

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument(
        "--langs", nargs="*", help="ISO 639-3 codes (default: every language in data/languages.csv)"
    )
    ap.add_argument(
        "--base-url",
        default=os.environ.get(URL_VARIABLE) or BASE_URL,
        help=f"where the files are (default: ${URL_VARIABLE}, else LASER's repository)",
    )
    ap.add_argument(
        "--manifest", type=Path, default=MANIFEST, help="file,lines,bytes,sha256 CSV to verify against"
    )
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per request before giving up")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    return run_cli(
        lambda: _fetch_cli(args, args.langs or sorted(load_languages())),
        interrupted="the languages fetched so far are kept; run again to fetch the rest",
    )


def _fetch_cli(args: argparse.Namespace, langs: list[str]) -> int:
    todo = missing_files(args.out, langs)
    if not todo:
        print(f"{args.out}: all {len(langs)} languages present")
        return 0
    try:
        n = fetch(
            args.out,
            langs,
            base_url=args.base_url,
            manifest=load_manifest(args.manifest),
            timeout=args.timeout,
            progress=not args.quiet,
        )
    except DataUnreachable as exc:
        print(
            f"error: {len(todo)} Tatoeba files missing and {exc}: {where_to_put(args.out)}", file=sys.stderr
        )
        return 2
    except DataError as exc:
        print(f"error: download rejected, nothing kept for that language: {exc}", file=sys.stderr)
        return 2
    print(f"{n} files fetched into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
