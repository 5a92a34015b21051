"""Command line: ``python -m core.noise --type keyboard --level 0.1 --seed 0 --lang amh "ሰላም ለዓለም"``.

Prints the noisy text, the text with each edit marked ``[old→new]``, and the CER. With ``--jsonl`` it
reads lines from stdin and writes one JSON object per line (``text``, ``noisy``, ``edits``, ``cer``,
``layout``, ``qid``); the query id is the 0-based line number, as in the precompute, so a file of
Tatoeba queries gets exactly the noise the grid stored for it. Input is UTF-8 whatever the locale: a line
that is not ends the output with one ``error: stdin line N (qid N-1) is not valid UTF-8`` on stderr and exit
status 2 (the lines before it are written), so the output is always valid UTF-8.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterator

from core.errors import ClirError
from core.noise.registry import apply_noise, apply_noise_batch, list_noise_types
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


def _stdin_lines() -> Iterator[str]:
    """Lines of stdin decoded as UTF-8 whatever the locale, split at ``\\n`` as ``sys.stdin`` splits them.

    Bytes that are not UTF-8 come through as lone surrogates (``surrogateescape``) instead of raising in
    the middle of iteration, so the caller can name the line they are on."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a text stream without bytes underneath (e.g. io.StringIO in a test)
        return iter(sys.stdin)
    return iter(io.TextIOWrapper(buffer, encoding="utf-8", errors="surrogateescape", newline="\n"))


def _not_utf8(text: str) -> bool:
    # Lone surrogates are what surrogateescape makes of undecodable bytes (argv and stdin alike); valid
    # UTF-8 never decodes to one, and writing them back would put the raw bytes into the JSON.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


#: Lines noised per engine call with --jsonl (one by one when stdin is a terminal: answer each line).
CHUNK = 512


def _jsonl(args) -> int:
    """Noise stdin's lines (qid = line number from 0) in chunks, one JSON line out per line in; exit 2 at
    the first line that is not UTF-8, after writing every line before it."""
    size = 1 if sys.stdin.isatty() else CHUNK
    qids: list[int] = []
    texts: list[str] = []

    def flush() -> None:
        batch = apply_noise_batch(texts, args.type, args.level, seed=args.seed, qids=qids, langs=args.lang)
        for qid, res in zip(qids, batch, strict=True):
            sys.stdout.write(json.dumps({**res.to_dict(), "qid": qid}, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        qids.clear()
        texts.clear()

    for qid, line in enumerate(_stdin_lines()):
        text = line.rstrip("\r\n")
        if _not_utf8(text):
            if texts:
                flush()
            print(f"error: stdin line {qid + 1} (qid {qid}) is not valid UTF-8", file=sys.stderr)
            return 2
        qids.append(qid)
        texts.append(text)
        if len(texts) >= size:
            flush()
    if texts:
        flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (2 for a usage error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.jsonl == (args.text is not None):
        parser.error("give either TEXT or --jsonl (lines on stdin)")
    try:
        if args.jsonl:
            return _jsonl(args)
        if _not_utf8(args.text):
            print("error: TEXT is not valid UTF-8", file=sys.stderr)
            return 2
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
