"""``python -m precompute.train_simcse``: bad input gives one line and exit status 2, and trains nothing."""

from __future__ import annotations

import pytest

from precompute.train_simcse import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--objective", "bitext", "--train-langs", "fra", "deu", "--eval-langs", "deu"], "overlap: deu"),
        (
            ["--objective", "bitext", "--train-langs", "xxx", "--eval-langs", "deu"],
            "unknown training language",
        ),
        (["--objective", "bitext", "--steps", "0", "--eval-langs", "deu"], "steps must be >= 1"),
        (["--objective", "bitext", "--base", "/no/such/folder", "--eval-langs", "deu"], "unknown encoder"),
        (["--objective", "bitext", "--base", "muse3", "--eval-langs", "deu"], "cannot be trained"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLIR_MODELS_DIR", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not list(tmp_path.iterdir())


def test_unknown_objective_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--objective", "supervised"])
    assert exc.value.code == 2


@pytest.mark.slow
def test_cli_trains_a_tiny_model_that_registers(tmp_path, monkeypatch, capsys):
    from core.encoders import registry

    monkeypatch.setenv("CLIR_MODELS_DIR", str(tmp_path))
    argv = ["--objective", "unsup", "--train-langs", "fra", "--eval-langs", "deu", "--dev-langs",
            "--steps", "2", "--batch-size", "8", "--max-pairs", "64", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert "saved" in capsys.readouterr().out
    assert registry()["simcse-unsup-minilm"]["card"]["train_langs"] == ["fra"]
    assert [p.name for p in tmp_path.iterdir()] == ["simcse-unsup-minilm"]
