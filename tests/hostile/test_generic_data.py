"""Issue 25, item 3: the generic TSV / JSONL loader never drops, shifts or half-reads a row.

A TSV row with an extra tab (``a\\tb\\tc``) was stored as query ``a``, document ``b``; a UTF-8 BOM made the
header unreadable ("row 0 has no text column 'query'"); a JSONL line that is a list, or nested thousands deep
(json's RecursionError), was a traceback. Each is now one ``DataError`` naming the file and its line, and
through ``python -m precompute run`` one ``error:`` line, exit 2, the database untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.datasets import load_bitexts
from core.errors import DataError
from core.store import connect

pytestmark = pytest.mark.hostile

ROOT = Path(__file__).resolve().parents[2]
HEADER = "query\tdocument\n"

# file name -> (bytes, the message's expected start)
BAD = {
    "extra.tsv": (HEADER + "ok\tfine\na\tb\tc\n", "extra.tsv:3: 3 tab-separated fields, the header has 2"),
    "short.tsv": (HEADER + "only one field\n", "short.tsv:2: 1 tab-separated fields, the header has 2"),
    "trailing.tsv": (HEADER + "a\tb\t\n", "trailing.tsv:2: 3 tab-separated fields"),
    "nohead.tsv": ("q\tdocument\na\tb\n", "nohead.tsv:1: the header row has no 'query' column"),
    "list.jsonl": ('{"query": "a", "document": "b"}\n[1, 2]\n', "list.jsonl:2: a JSON list where an object"),
    "string.jsonl": ('"query"\n', "string.jsonl:1: a JSON str where an object is needed"),
    "deep.jsonl": ("[" * 100_000 + "]" * 100_000 + "\n", "deep.jsonl:1: not a usable JSON line (nested too"),
    "deepobj.jsonl": ('{"query": ' + '{"a": ' * 50_000 + "1" + "}" * 50_001 + "\n", "deepobj.jsonl:1:"),
    "number.jsonl": ('{"query": 1, "document": "b"}\n', "number.jsonl:1: no text member 'query'"),
    "badutf8.tsv": (HEADER + "a\tb\n\xff\tc\n", "badutf8.tsv:3: not UTF-8"),
}


def _write(folder: Path, name: str, text: str) -> None:
    # Latin-1 keeps \xff as that single (invalid UTF-8) byte; every other character here is ASCII.
    (folder / name).write_bytes(text.encode("latin-1") if name == "badutf8.tsv" else text.encode("utf-8"))


@pytest.mark.parametrize("name", list(BAD))
def test_malformed_rows_are_one_error_naming_file_and_line(tmp_path, name):
    text, expected = BAD[name]
    _write(tmp_path, name, text)
    with pytest.raises(DataError) as err:
        load_bitexts("generic", [name.split(".")[0]], tmp_path)
    message = str(err.value)
    assert message.startswith(expected), message
    assert "\n" not in message and len(message) < 300


def test_a_byte_order_mark_is_accepted(tmp_path):
    (tmp_path / "bom.tsv").write_bytes(b"\xef\xbb\xbf" + (HEADER + "ሰላም\thello\n").encode("utf-8"))
    (tmp_path / "bomj.jsonl").write_bytes(
        b"\xef\xbb\xbf" + json.dumps({"query": "x", "document": "y"}).encode()
    )
    bts = load_bitexts("generic", ["bom", "bomj"], tmp_path)
    assert (bts["bom"].queries, bts["bom"].documents) == (("ሰላም",), ("hello",))
    assert (bts["bomj"].queries, bts["bomj"].documents) == (("x",), ("y",))


def test_quotes_are_literal_and_rows_keep_every_field(tmp_path):
    """The documented rule: no quoting, every tab separates; extra header columns are allowed; empty lines
    are not rows; CRLF line ends are removed."""
    text = "id\tquery\tdocument\n1\t\"a, b\"\t'c'\r\n\n2\tx\ty\n"
    (tmp_path / "q.tsv").write_text(text, encoding="utf-8", newline="")
    bt = load_bitexts("generic", ["q"], tmp_path)["q"]
    assert bt.queries == ('"a, b"', "x") and bt.documents == ("'c'", "y")


def _fingerprint(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["extra.tsv", "list.jsonl", "deep.jsonl"])
def test_the_cli_says_one_line_and_leaves_the_database_alone(tmp_path, name):
    data = tmp_path / "data"
    data.mkdir()
    text, expected = BAD[name]
    lang = name.split(".")[0]
    _write(data, name, text)
    grid = tmp_path / "grid.toml"
    grid.write_text(
        f'[dataset]\nname = "generic"\npath = "{data}"\nlanguages = ["{lang}"]\n'
        '[grid]\nencoders = ["minilm"]\nnoise = ["substitute"]\nlevels = [0.1]\n',
        encoding="utf-8",
    )
    db = tmp_path / "results.duckdb"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with connect(db):
        pass  # an existing, migrated database: the refused run must leave its bytes as they are
    before = _fingerprint(db)
    out = subprocess.run(
        [sys.executable, "-m", "precompute", "run", "--grid", str(grid), "--db", str(db), "--quiet"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {expected}"), out.stderr
    assert _fingerprint(db) == before and not db.with_name(db.name + ".wal").exists()
