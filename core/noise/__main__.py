"""Command line: ``python -m core.noise --type keyboard --level 0.1 --seed 0 --lang amh "ሰላም ለዓለም"``.

Prints the noisy text, the text with each edit marked ``[old→new]``, and the CER. With ``--jsonl`` it
reads lines from stdin and writes one JSON object per line (``text``, ``noisy``, ``edits``, ``cer``,
``layout``, ``qid``); the query id is the 0-based line number, as in the precompute, so a file of
Tatoeba queries gets exactly the noise the grid stored for it.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.errors import ClirError
from core.noise.registry import apply_noise, list_noise_types
from core.noise.result import marked


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.noise", description=__doc__.split("\n\n")[0])
    p.add_argument("--type", required=True, choices=list_noise_types(), help="noise type")
    p.add_argument("--level", type=float, required=True, help="fraction of non-space clusters edited, 0..1")
    p.add_argument("--seed", type=int, default=0, help="experiment seed (default 0)")
    p.add_argument("--lang", required=True, help="ISO 639-3 code of the text, e.g. amh")
    p.add_argument("--qid", default="0", help="query id of TEXT (default 0); ignored with --jsonl")
    p.add_argument("--jsonl", action="store_true", help="read lines from stdin, write JSON lines")
    p.add_argument("text", nargs="?", help="text to noise (omit with --jsonl)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (2 for a usage error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.jsonl == (args.text is not None):
        parser.error("give either TEXT or --jsonl (lines on stdin)")
    try:
        if args.jsonl:
            for qid, line in enumerate(sys.stdin):
                text = line.rstrip("\r\n")
                res = apply_noise(text, args.type, args.level, seed=args.seed, qid=qid, lang=args.lang)
                sys.stdout.write(json.dumps({**res.to_dict(), "qid": qid}, ensure_ascii=False) + "\n")
            return 0
        qid = int(args.qid) if args.qid.isdigit() else args.qid
        res = apply_noise(args.text, args.type, args.level, seed=args.seed, qid=qid, lang=args.lang)
    except (ClirError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(res.noisy)
    print(f"edits: {marked(res)}")
    print(f"cer: {res.cer:.3f}  edits: {len(res.edits)}" + (f"  layout: {res.layout}" if res.layout else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
