"""Issue 25, item 10 (regressions a and b): hostile input to two CLIs is one ``error:`` line, exit 2.

(a) A grid TOML nested thousands of levels deep made tomllib raise ``RecursionError`` (a traceback).
(b) ``python -m core.noise --jsonl`` copied undecodable stdin bytes into its JSON output (invalid UTF-8);
it now stops at that line with one ``error:`` line naming it, and what it wrote is valid UTF-8.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.hostile, pytest.mark.slow]  # slow: a CLI subprocess per attack

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
HEAD = '[dataset]\nname = "tatoeba"\nlanguages = ["amh"]\n[grid]\nencoders = ["muse3"]\n'
DEEP = {
    "array": HEAD + "levels = " + "[" * 5000 + "0.1" + "]" * 5000 + "\n",
    "inline table": HEAD + "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n",
    "unknown key": HEAD + "x = " + "[" * 100_000 + "\n",
}


def _run(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], input=stdin, capture_output=True, cwd=ROOT, env=ENV,
                          timeout=120)  # fmt: skip


@pytest.mark.parametrize("case", list(DEEP))
@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_deeply_nested_grid_is_one_error_line(tmp_path, case, command):
    grid = tmp_path / "deep.toml"
    grid.write_text(DEEP[case], encoding="utf-8")
    db = tmp_path / "r.duckdb"
    out = _run(["precompute", command, "--grid", str(grid), "--db", str(db)])
    err = out.stderr.decode()
    assert out.returncode == 2, err[-2000:]
    assert err.count("\n") == 1 and err.startswith("error: ") and str(grid) in err, err[-2000:]
    assert "Traceback" not in err and not db.exists()


def test_noise_cli_stops_at_a_line_that_is_not_utf8():
    stdin = "ሰላም ለዓለም\n".encode() + b"bad \xff\xfe bytes\n" + b"after\n"
    out = _run(["core.noise", "--type", "keyboard", "--level", "0.5", "--lang", "amh", "--jsonl"], stdin)
    assert out.returncode == 2
    assert out.stderr.decode() == "error: stdin line 2 (qid 1) is not valid UTF-8\n"
    text = out.stdout.decode("utf-8")  # strict: raises on any invalid byte
    rows = [json.loads(line) for line in text.splitlines()]
    assert [r["qid"] for r in rows] == [0] and rows[0]["text"] == "ሰላም ለዓለም"


@pytest.mark.parametrize("bad", [b"\xed\xa0\x80", b"\xc3", b"\x80"])  # an encoded surrogate, a cut, a tail
def test_noise_cli_refuses_every_kind_of_invalid_utf8(bad):
    out = _run(
        ["core.noise", "--type", "delete", "--level", "0.3", "--lang", "eng", "--jsonl"], b"a" + bad + b"\n"
    )
    assert out.returncode == 2 and out.stdout == b""
    assert out.stderr.decode().startswith("error: stdin line 1 (qid 0) is not valid UTF-8")


def test_noise_cli_refuses_a_text_argument_that_is_not_utf8():
    # On POSIX, argv bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape).
    out = subprocess.run([sys.executable, "-m", "core.noise", "--type", "delete", "--level", "0.3", "--lang", "eng",
                          b"ab\xffcd"], capture_output=True, cwd=ROOT, env=ENV, timeout=120)  # fmt: skip
    assert out.returncode == 2 and out.stdout == b""
    assert out.stderr.decode() == "error: TEXT is not valid UTF-8\n"
