"""The CLI (single text and --jsonl) and the generated docs page."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.noise import apply_noise
from core.noise.build.docs import generate

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core.noise", *args], input=stdin, capture_output=True, text=True, cwd=ROOT
    )


def test_cli_single_text():
    out = _cli("--type", "keyboard", "--level", "0.6", "--seed", "0", "--lang", "amh", "ሰላም ለዓለም")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    expected = apply_noise("ሰላም ለዓለም", "keyboard", 0.6, seed=0, qid=0, lang="amh")
    assert lines[0] == expected.noisy
    assert lines[1].startswith("edits: ") and "→" in lines[1]
    assert "layout: et" in lines[2]


def test_cli_jsonl_line_number_is_qid():
    out = _cli("--type", "substitute", "--level", "0.2", "--lang", "fra", "--jsonl", stdin="bonjour\nça va\n")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["qid"] for r in rows] == [0, 1]
    for r in rows:
        assert {"text", "noisy", "edits", "cer"} <= set(r)
        assert r["noisy"] == apply_noise(r["text"], "substitute", 0.2, seed=0, qid=r["qid"], lang="fra").noisy


def test_cli_errors_list_valid_names():
    bad_type = _cli("--type", "typo", "--level", "0.1", "--lang", "eng", "x")
    assert bad_type.returncode == 2 and "substitute" in bad_type.stderr
    bad_lang = _cli("--type", "delete", "--level", "0.1", "--lang", "English", "x")
    assert bad_lang.returncode == 2 and "amh" in bad_lang.stderr


def test_docs_page_is_generated_and_current():
    page = (ROOT / "docs" / "noise.md").read_text(encoding="utf-8")
    assert page == generate(), "docs/noise.md is stale: run `python -m core.noise.build.docs > docs/noise.md`"
