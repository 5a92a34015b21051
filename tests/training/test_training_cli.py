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
        (["--objective", "labse-ams", "--margin", "-1", "--eval-langs", "deu"], "margin must be in [0, 2)"),
        (["--objective", "labse-ams", "--margin", "nan", "--eval-langs", "deu"], "margin must be"),
        (["--objective", "bitext", "--margin", "0.2", "--eval-langs", "deu"], "--margin is labse-ams's"),
        (["--objective", "bitext", "--seeds", "--eval-langs", "deu"], "at least one training seed"),
        (["--objective", "bitext", "--seeds", "0", "1", "1", "--eval-langs", "deu"], "seed 1 is given more"),
        (["--objective", "bitext", "--seeds", "-1", "--eval-langs", "deu"], "not a whole number in [0, "),
        (["--objective", "bitext", "--seed", "99999999999999", "--eval-langs", "deu"], "not a whole number"),
        (
            ["--objective", "bitext", "--seeds", "0", "1", "--out", "x", "--eval-langs", "deu"],
            "--out names one",
        ),
        (["--objective", "bitext", "--learning-rate", "inf", "--eval-langs", "deu"], "finite"),
        (["--objective", "typo-contrastive", "--typo-weight", "inf", "--eval-langs", "deu"], "finite"),
        (["--objective", "ot-distill", "--ot-epsilon", "inf", "--eval-langs", "deu"], "finite"),
        (["--objective", "bitext", "--device", "cuda", "--eval-langs", "deu"], "torch sees no GPU"),
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


@pytest.mark.slow
def test_cli_trains_one_model_per_training_seed_named_by_the_seed(tmp_path, monkeypatch, capsys):
    import numpy as np

    from core.encoders import load_encoder, registry

    monkeypatch.setenv("CLIR_MODELS_DIR", str(tmp_path))
    argv = ["--objective", "bitext", "--train-langs", "fra", "--eval-langs", "deu", "--dev-langs", "--seeds",
            "0", "2", "--steps", "2", "--batch-size", "8", "--max-pairs", "64", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "training simcse-bitext-minilm, simcse-bitext-minilm-s2 (bitext on minilm)" in out
    specs = registry()
    assert specs["simcse-bitext-minilm"]["card"]["seed"] == 0
    assert specs["simcse-bitext-minilm-s2"]["card"]["seed"] == 2
    assert specs["simcse-bitext-minilm-s2"]["card"]["pairs_seen"] == 16
    probe = ["Das Haus ist rot.", "Le chat dort."]
    a, b = (load_encoder(n).encode(probe) for n in ("simcse-bitext-minilm", "simcse-bitext-minilm-s2"))
    assert np.abs(a - b).max() > 1e-4  # another seed, another model
    # Asking again refuses before training anything (every seed's target is checked first).
    assert main(argv) == 2 and "already exists" in capsys.readouterr().err
