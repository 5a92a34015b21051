"""Issue 25, item 11 (one part): two trainings racing for one ``--name`` used to both succeed, and the name
then meant two models (the registry lists neither). The trainer now takes the name atomically: the second
is refused with one line naming the first one's pid; a killed holder never leaves the name taken.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import ConfigError

pytestmark = pytest.mark.hostile

REPO = Path(__file__).resolve().parents[2]
TRAIN = [sys.executable, "-m", "precompute.train_simcse", "--objective", "unsup", "--train-langs", "fra",
         "--eval-langs", "deu", "--dev-langs", "--batch-size", "8", "--max-pairs", "64", "--quiet"]  # fmt: skip
HOLD = """
import sys, time
from core.training.simcse import _name_lock
with _name_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process ended first ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not after {timeout} s")
        time.sleep(0.2)


def test_the_name_lock_is_exclusive_ignores_case_and_survives_a_killed_holder(tmp_path, monkeypatch):
    from core.training.simcse import _name_lock

    monkeypatch.setenv("CLIR_MODELS_DIR", str(tmp_path))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, "held"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held", holder.stderr.read()
        for name in ("held", "HELD"):  # names equal ignoring case are one name
            with (
                pytest.raises(
                    ConfigError, match=rf"is being trained by another process \(pid {holder.pid}\)"
                ),
                _name_lock(name),
            ):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # Killed with the lock held: the kernel released it; the stale file names a dead pid and holds nothing.
    assert (tmp_path / ".held.lock").read_text() == str(holder.pid)
    with _name_lock("held"):
        assert (tmp_path / ".held.lock").read_text() == str(os.getpid())
    assert not list(tmp_path.iterdir())  # released and removed


@pytest.mark.slow
def test_two_trainings_of_one_name_cannot_both_run(tmp_path, monkeypatch, data_dir):
    from core.encoders import registry

    models = tmp_path / "models"
    monkeypatch.setenv("CLIR_MODELS_DIR", str(models))
    env = {**os.environ, "CLIR_MODELS_DIR": str(models), "PYTHONPATH": str(REPO)}
    first = subprocess.Popen([*TRAIN, "--name", "race", "--steps", "100000"], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    lock = models / ".race.lock"
    try:
        # The first one is training once its staging folder exists (it holds the name from before then).
        wait_for(lambda: any(models.glob(".race.*.staging")), 240, "first starts training", first)
        # A second training of the same name, started while the first one trains: refused at once.
        second = subprocess.run([*TRAIN, "--name", "race", "--steps", "1"], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=300)  # fmt: skip
        assert second.returncode == 2, (second.stdout, second.stderr)
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert lines == [f"error: model name 'race' is being trained by another process (pid {first.pid}); "
                         "wait for it to finish or choose another --name"], second.stderr  # fmt: skip
        assert first.poll() is None  # the first one was not disturbed
        assert lock.read_text() == str(first.pid)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # The first one died holding the name (kill -9): the name is free again, and a training takes it.
    assert "race" not in registry()
    third = subprocess.run([*TRAIN, "--name", "race", "--steps", "1"], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert third.returncode == 0, third.stderr
    assert "saved" in third.stdout and not lock.exists()
    assert registry()["race"]["card"]["steps"] == 1
