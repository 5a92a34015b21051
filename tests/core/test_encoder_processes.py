"""Encoders in their own single-threaded child processes (core.encoders.process), with the real muse3.

The proxy must be the encoder it stands for (same name, fingerprint, spec, vectors in input order), a
child that cannot load or dies must give the usual one-line reason, and no child may outlive its run:
closed, interrupted (Ctrl-C to the whole process group) or with its parent killed by SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.encoders import load_encoder
from core.encoders.process import RemoteEncoder, default_processes, load_in_processes
from core.encoders.registry import runs_in_own_processes
from core.errors import EncoderUnavailable, UnknownNameError

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "Tom is here.",
    "ቶም እዚህ ነው።",  # Amharic
    "Ndiyabulela kakhulu.",
    "",  # empty
    "שלום עולם",  # RTL
    "👩‍💻 codes at night 🌙",  # ZWJ emoji sequence
    "e\u0301te\u0301",  # combining accents
    "తెలుగు వాక్యం ఇది",
    "x" * 3000,  # long
]


@pytest.fixture(scope="module")
def local():
    return load_encoder("muse3")


@pytest.fixture(scope="module")
def remote():
    enc = load_in_processes("muse3", processes=2)
    yield enc
    enc.close()


def children_of(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pids: list[int]) -> list[int]:
    left = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.append(pid)
    return left


def wait_gone(pids: list[int], seconds: float = 15) -> list[int]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)


def test_only_muse3_asks_for_its_own_processes():
    assert runs_in_own_processes("muse3")
    assert not runs_in_own_processes("minilm") and not runs_in_own_processes("e5-small")
    with pytest.raises(UnknownNameError):
        runs_in_own_processes("nosuchencoder")
    assert 1 <= default_processes() <= 8


def test_the_proxy_is_the_encoder(local, remote):
    assert isinstance(remote, RemoteEncoder)
    assert (remote.name, remote.fingerprint, remote.spec) == (local.name, local.fingerprint, local.spec)
    assert len(remote.processes) == 2


@pytest.mark.parametrize("n", [0, 1, 2, 3, len(TEXTS)])
def test_vectors_in_input_order_whatever_the_count(local, remote, n):
    texts = TEXTS[:n]
    got, want = remote.encode(texts), local.encode(texts)
    assert got.shape == want.shape == (n, 512) and got.dtype == np.float32
    # One thread and another batch make the last bits differ (as any other batch composition does), so
    # close, not equal; a share put back in the wrong rows would be off by far more.
    np.testing.assert_allclose(got, want, atol=2e-6)
    if n > 1:
        shuffled = remote.encode(texts[::-1])[::-1]
        np.testing.assert_allclose(shuffled, want, atol=2e-6)


def test_many_texts_split_over_the_children(local, remote):
    texts = [f"sentence number {i} " + "word " * (i % 17) for i in range(301)]
    np.testing.assert_allclose(remote.encode(texts), local.encode(texts), atol=2e-6)


def test_an_unknown_name_is_refused_before_any_process_starts():
    before = children_of(os.getpid())
    with pytest.raises(UnknownNameError, match="unknown encoder 'we\\\\nird'"):
        load_in_processes("we\nird", processes=2)
    assert children_of(os.getpid()) == before


def test_an_encoder_that_cannot_load_gives_its_reason_and_leaves_no_child(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderUnavailable) as here:
        load_encoder("nosuch/model")
    before = children_of(os.getpid())
    with pytest.raises(EncoderUnavailable) as there:
        load_in_processes("nosuch/model", processes=2)
    assert str(there.value) == str(here.value)
    assert children_of(os.getpid()) == before


def test_a_child_killed_mid_run_is_one_clear_error_and_close_still_works():
    enc = load_in_processes("muse3", processes=2)
    pids = [p.pid for p, _ in enc.processes._children]
    assert sorted(pids) == sorted(set(children_of(os.getpid())) & set(pids))
    os.kill(pids[1], signal.SIGKILL)
    with pytest.raises(
        EncoderUnavailable, match=r"encoder muse3 unavailable: its encoder process 2 of 2 ended"
    ):
        enc.encode(TEXTS)
    enc.close()
    enc.close()  # idempotent
    assert wait_gone(pids) == []


def test_close_stops_every_child(remote):
    enc = load_in_processes("muse3", processes=2)
    pids = [p.pid for p, _ in enc.processes._children]
    assert alive(pids) == pids
    enc.close()
    assert alive(pids) == []


DRIVER = """
import signal, sys
# As from a terminal: Ctrl-C raises KeyboardInterrupt. (A process started with SIGINT ignored, as pytest-xdist's
# workers start theirs, would otherwise ignore it too: Python installs its handler only over the default.)
signal.signal(signal.SIGINT, signal.default_int_handler)
from core.pipeline import parse_grid, run_grid
grid = parse_grid(open(sys.argv[1]).read())
run_grid(grid, sys.argv[2], progress=False, flush_seconds=0,
         on_progress=lambda done, total: print(done, total, flush=True))
print("finished", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigkill", "ctrl-c"])
def test_no_child_outlives_its_run(tmp_path, data_dir, how):
    """The run's parent killed by SIGKILL (no handler runs), or Ctrl-C sent to its whole process group as
    a terminal does: either way every encoder child is gone at once, and a rerun finishes the grid."""
    grid = tmp_path / "g.toml"
    grid.write_text(
        '[dataset]\nlanguages = ["amh", "xho", "swh"]\n[grid]\nencoders = ["muse3"]\nnoise = ["delete"]\n'
        "levels = [0.1, 0.2, 0.3]\n",
        encoding="utf-8",
    )
    db = tmp_path / "r.duckdb"
    env = {**os.environ, "PYTHONPATH": str(REPO), "CLIR_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(grid), str(db)], cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        first = proc.stdout.readline()  # a cell is stored: the children are loaded and encoding
        assert first.split()[0].isdigit(), first + proc.stderr.read()
        kids = children_of(proc.pid)
        assert len(kids) == default_processes(), kids
        if how == "sigkill":
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        assert wait_gone(kids) == [], "an encoder child outlived its run"
        if how == "ctrl-c":
            assert "KeyboardInterrupt" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(grid), str(db)], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "finished", done.stderr
