"""The noise speed benchmark on a few sentences: one verdict line per requested type with a finite ratio
against its fastest peer (our keyboard for a peerless type), the same numbers in its JSON, and exit 2 with a
one-line list of the valid names for a bad argument. No timing is asserted: the machine is shared."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from benchmarks import noise_speed  # noqa: E402


def test_noise_speed_reports_every_requested_type(data_dir, tmp_path, capsys):
    out_json = tmp_path / "speed.json"
    argv = ["--n", "60", "--repeat", "1", "--types", "substitute,mixed", "--json", str(out_json)]
    assert noise_speed.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("noise speed at level 0.1: 60 Tatoeba sentences from 12 languages")
    assert any(line.startswith("substitute: ours ") and "fastest peer " in line for line in lines)
    assert any(line.startswith("mixed: ours ") and "fastest peer ours keyboard " in line for line in lines)
    assert lines[-1].startswith("targets met: ") and lines[-1].split()[2].endswith("/2")
    report = json.loads(out_json.read_text())
    assert set(report["types"]) == {"substitute", "mixed"}
    for v in report["types"].values():
        assert math.isfinite(v["ratio"]) and v["ratio"] > 0
        assert v["met"] == (v["ratio"] >= v["target"])
    assert report["types"]["substitute"]["target"] == 1.3
    assert report["types"]["mixed"]["peer"] == "ours keyboard"
    assert set(report["rates"]["substitute"]) >= {noise_speed.OURS, report["types"]["substitute"]["peer"]}
    # The reference is timed in the peerless type's own rounds; keyboard's peers are not run for it.
    assert (
        set(report["rates"]["mixed"]) == {noise_speed.OURS, "ours keyboard"}
        and "keyboard" not in report["rates"]
    )


def test_noise_speed_bad_arguments_exit_2(capsys):
    assert noise_speed.main(["--types", "substitute", "bogus"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "bogus" in err
    assert all(name in err for name in noise_speed.TYPES)
    assert noise_speed.main(["--n", "0"]) == 2
