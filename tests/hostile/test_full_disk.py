"""Issue 25, item 11 (full disk): a run that fills the disk says so in the project's own words, once.

The user saw a ``WARNING`` line plus DuckDB's raw text ("TransactionContext Error: Failed to commit: Could not
write file ...wal"). Now ``python -m precompute run`` ends with exactly one line, ``error: no space left on
device: database '...'; what was stored before is intact, free space and rerun``, exit 2, and the database
stays readable. The disk is real: a small tmpfs (needs root; skipped where ``mount`` is refused), filled
once the database exists but for 5 MiB: room for the run's record, its inputs and a cell or two (DuckDB
writes in 256 KiB blocks and a WAL), so the disk fills in the middle of the run, where a failed write is
followed by the last flush and the run's status, each of which failed again and used to log a line.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.hostile

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda"]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs mounted for this test and always unmounted after it."""
    mnt = tmp_path / f"tiny-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16M", "tmpfs", str(mnt)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _grid(tmp_path: Path) -> Path:
    rng = random.Random(0)
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        f"{' '.join(rng.choices(WORDS, k=8))} {i}\t{' '.join(rng.choices(WORDS, k=9))} {i}" for i in range(40)
    ]
    (data / "deu.tsv").write_text("query\tdocument\n" + "\n".join(rows) + "\n", encoding="utf-8")
    grid = tmp_path / "grid.toml"
    grid.write_text(
        f'[dataset]\nname = "generic"\npath = "{data}"\nlanguages = ["deu"]\n[grid]\nencoders = ["minilm"]\n'
        'noise = ["substitute"]\nlevels = [0.1, 0.2]\n',
        encoding="utf-8",
    )
    return grid


@pytest.mark.slow
def test_a_full_disk_is_one_line_in_the_projects_words(tiny_disk, tmp_path):
    from core.store import connect

    db = tiny_disk / "results.duckdb"
    with connect(db):
        pass  # the schema exists; then the disk is filled but for a little room
    free = os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize
    (tiny_disk / "filler").write_bytes(b"\0" * max(0, free - 5 * 2**20))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "precompute",
        "run",
        "--grid",
        str(_grid(tmp_path)),
        "--db",
        str(db),
        "--quiet",
    ]
    out = subprocess.run(cmd + ["--flush-seconds", "0"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert out.returncode == 2, (out.stdout, out.stderr)
    # Hugging Face's "Loading weights" bar is not ours; every other line of stderr is.
    lines = [
        ln for ln in out.stderr.replace("\r", "\n").splitlines() if ln.strip() and "Loading weights" not in ln
    ]
    expected = (
        f"error: no space left on device: database {str(db)!r}; what was stored before is intact, free space "
        "and rerun"
    )
    assert lines == [expected], out.stderr
    assert "WARNING" not in out.stderr and "TransactionContext" not in out.stderr
    # What was stored is intact: with space again, the database opens and verifies every row.
    (tiny_disk / "filler").unlink()
    with connect(db, read_only=True, verify=True) as conn:
        status = conn.execute("SELECT status FROM runs").fetchall()
    assert status == [("failed",)]


def test_every_layer_of_a_full_disk_gets_the_same_line():
    import sqlite3

    import duckdb

    from core.errors import StoreError, is_disk_full, no_space_message, user_message

    os_error = OSError(28, "No space left on device", "/x/cache.sqlite")
    db_error = duckdb.IOException('Could not write file "/x/r.duckdb.wal": No space left on device')
    wrapped = StoreError("database '/x/r.duckdb': raw text")
    wrapped.__cause__ = db_error
    assert user_message(os_error) == no_space_message("/x/cache.sqlite")
    assert user_message(db_error) == no_space_message("/x/r.duckdb.wal")
    assert user_message(wrapped) == no_space_message("/x/r.duckdb.wal")
    assert user_message(sqlite3.OperationalError("database or disk is full")) == no_space_message(
        "the embedding cache"
    )
    # A bug raised while handling a full disk is still a bug (only explicit causes count).
    try:
        try:
            raise os_error
        except OSError:
            raise KeyError("bug") from None
    except KeyError as bug:
        assert not is_disk_full(bug) and user_message(bug) is None
