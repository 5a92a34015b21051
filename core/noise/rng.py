"""Per-query random generators derived from (seed, query id, noise type), never from global state."""

from __future__ import annotations

import hashlib

import numpy as np


def query_entropy(seed: int, qid: int | str, noise: str | None = None) -> int:
    """128-bit integer identifying one (seed, query, noise type): SHA-256 of ``"seed\\x1fqid\\x1fnoise"``.

    SHA-256, not ``hash()``: Python salts str hashes per process, and CRC32 collides too easily.
    """
    key = f"{int(seed)}\x1f{qid}\x1f{noise or ''}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:16], "little")


def noise_rng(seed: int, qid: int | str, noise: str | None = None) -> np.random.Generator:
    """Return the generator for one query: a pure function of ``(seed, str(qid), noise)``.

    The stream is ``PCG64(SeedSequence(query_entropy(seed, qid, noise)))``: identical on every machine
    and Python version, independent between queries (adding queries to a grid never changes the noise of
    existing ones) and between noise types. ``qid=5`` and ``qid="5"`` give the same stream. One 128-bit
    integer rather than a list of words halves the cost of ``SeedSequence`` (this runs once per query).

    Args:
        seed: non-negative integer seed of the experiment.
        qid: query id (line number, document id...).
        noise: noise type name; None gives a stream shared by no type.

    Returns:
        A fresh ``numpy.random.Generator``.

    Raises:
        TypeError: ``seed`` is not an int, or ``qid`` is neither int nor str.
        ValueError: ``seed`` is negative.

    Example:
        >>> float(noise_rng(0, 7, "delete").random()) == float(noise_rng(0, "7", "delete").random())
        True
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if isinstance(qid, bool) or not isinstance(qid, int | str | np.integer):
        raise TypeError(f"qid must be an int or str, got {type(qid).__name__} {qid!r}")
    if isinstance(qid, np.integer):
        qid = int(qid)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(query_entropy(seed, qid, noise))))
