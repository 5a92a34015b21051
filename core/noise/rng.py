"""Per-query random numbers derived from (seed, query id, noise type), never from global state.

Each query gets a 64-bit key, the first 8 bytes of SHA-256(``"seed\\x1fqid\\x1fnoise"``), and its
``k``-th uniform is a pure function of (key, k): SplitMix64's output function (Steele, Lea & Flood 2014)
applied to ``key + (k + 1) * 0x9E3779B97F4A7C15`` mod 2**64, top 53 bits scaled to [0, 1). This is a
counter-based generator: no state to create per query (creating a numpy ``SeedSequence`` + ``PCG64`` per
query was about 45 % of the noise time), any uniform of any query can be computed independently, and a
whole batch of queries is one vectorised numpy expression. Only unsigned 64-bit integer arithmetic is
involved, so the numbers are identical on every machine, OS and numpy version.
"""

from __future__ import annotations

import hashlib

import numpy as np

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 2.0**-53


def _check(seed: int, qid: int | str) -> int | str:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if isinstance(qid, bool) or not isinstance(qid, int | str | np.integer):
        raise TypeError(f"qid must be an int or str, got {type(qid).__name__} {qid!r}")
    return int(qid) if isinstance(qid, np.integer) else qid


def query_key(seed: int, qid: int | str, noise: str | None = None) -> int:
    """64-bit key of one (seed, query, noise type): the first 8 bytes (little-endian) of SHA-256 of
    ``"seed\\x1fqid\\x1fnoise"``. SHA-256, not ``hash()``: Python salts str hashes per process.

    ``qid=5`` and ``qid="5"`` give the same key.
    """
    key = f"{int(seed)}\x1f{qid}\x1f{noise or ''}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little")


def query_keys(seed: int, qids: list[int | str], noise: str | None = None) -> np.ndarray:
    """``[query_key(seed, q, noise) for q in qids]`` as a uint64 array, with less overhead per query."""
    sha, head, tail = hashlib.sha256, f"{int(seed)}\x1f", f"\x1f{noise or ''}"
    digests = b"".join([sha(f"{head}{q}{tail}".encode()).digest() for q in qids])
    return np.frombuffer(digests, "<u8")[::4].astype(np.uint64)  # the first 8 of every 32 bytes


def uniforms(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Uniform floats in [0, 1): element ``j`` is the ``counters[j]``-th uniform of key ``keys[j]``.

    Both arrays are ``uint64`` of one shape (broadcasting allowed). Pure function, vectorised.
    """
    with np.errstate(over="ignore"):
        z = keys + (counters + np.uint64(1)) * _GAMMA
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        z = z ^ (z >> _S31)
    return (z >> _S11).astype(np.float64) * _TO_UNIT


class QueryRNG:
    """The random stream of one query: ``random(n)`` returns its next ``n`` uniforms.

    Only ``random`` is offered, since it is all the noise families use; the stream is the counter sequence
    described in the module doc, starting at counter 0.
    """

    __slots__ = ("key", "_next")

    def __init__(self, key: int):
        self.key = key
        self._next = 0

    def random(self, size: int | None = None) -> np.ndarray | float:
        """The next ``size`` uniforms in [0, 1) as a float64 array (one float when ``size`` is None)."""
        n = 1 if size is None else int(size)
        out = uniforms(np.uint64(self.key), np.arange(self._next, self._next + n, dtype=np.uint64))
        self._next += n
        return float(out[0]) if size is None else out


def noise_rng(seed: int, qid: int | str, noise: str | None = None) -> QueryRNG:
    """Return the random stream of one query: a pure function of ``(seed, str(qid), noise)``.

    Identical on every machine and Python/numpy version, independent between queries (adding queries to
    a grid never changes the noise of existing ones) and between noise types. ``qid=5`` and ``qid="5"``
    give the same stream.

    Args:
        seed: non-negative integer seed of the experiment.
        qid: query id (line number, document id...).
        noise: noise type name; None gives a stream shared by no type.

    Returns:
        A fresh :class:`QueryRNG`.

    Raises:
        TypeError: ``seed`` is not an int, or ``qid`` is neither int nor str.
        ValueError: ``seed`` is negative.

    Example:
        >>> noise_rng(0, 7, "delete").random() == noise_rng(0, "7", "delete").random()
        True
    """
    qid = _check(seed, qid)
    return QueryRNG(query_key(seed, qid, noise))
