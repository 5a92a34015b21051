"""On-disk embedding cache keyed by (encoder fingerprint, text).

One SQLite file per fingerprint under ``$CLIR_CACHE_DIR/embeddings``. SQLite in WAL mode lets the
dashboard read document vectors while a precompute appends new ones; a killed writer loses at most the
batch it was inserting, never a stored vector.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from core.encoders.base import Encoder, finite_vectors
from core.paths import cache_dir

_CHUNK = 900  # below SQLite's default limit on bound parameters


def _key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """Vectors of one encoder fingerprint; holds an open SQLite connection."""

    def __init__(self, fingerprint: str, root: Path | None = None):
        root = Path(root or cache_dir()) / "embeddings"
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / f"{fingerprint}.sqlite"
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL: no fsync per committed batch (the cost showed in runs of many small
        # cells). Still never corrupt; a power cut may drop the last batches, which are simply encoded again.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key BLOB PRIMARY KEY, dim INTEGER, vec BLOB)")

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Return text -> vector for the texts that are cached (missing ones are absent)."""
        by_key = {_key(t): t for t in texts}
        keys, found = list(by_key), {}
        for i in range(0, len(keys), _CHUNK):
            part = keys[i : i + _CHUNK]
            rows = self._db.execute(
                f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(part))})", part
            )
            for key, vec in rows:
                found[by_key[key]] = np.frombuffer(vec, dtype=np.float32)
        return found

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` for ``texts[i]`` in one transaction."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO emb VALUES (?, ?, ?)",
                (
                    (_key(t), v.shape[0], np.ascontiguousarray(v, np.float32).tobytes())
                    for t, v in zip(texts, vectors)
                ),
            )

    def contains(self, texts: Sequence[str]) -> set[str]:
        """The texts among ``texts`` that are cached (keys only: no vector is read)."""
        by_key = {_key(t): t for t in texts}
        keys, found = list(by_key), set()
        for i in range(0, len(keys), _CHUNK):
            part = keys[i : i + _CHUNK]
            rows = self._db.execute(f"SELECT key FROM emb WHERE key IN ({','.join('?' * len(part))})", part)
            found.update(by_key[k] for (k,) in rows)
        return found

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM emb").fetchall()[0][0]

    def close(self) -> None:
        self._db.close()


def cached_texts(fingerprint: str, texts: Sequence[str], root: Path | None = None) -> set[str]:
    """The texts among ``texts`` already cached for ``fingerprint``; creates no cache file where none is."""
    path = Path(root or cache_dir()) / "embeddings" / f"{fingerprint}.sqlite"
    if not path.is_file() or not texts:
        return set()
    cache = EmbeddingCache(fingerprint, root)
    try:
        return cache.contains(texts)
    finally:
        cache.close()


def encode_cached(
    encoder: Encoder,
    texts: Sequence[str],
    cache: EmbeddingCache | None = None,
    *,
    batch: int = 512,
    on_progress: Callable[[int], None] | None = None,
    keep: bool = True,
) -> tuple[np.ndarray, int]:
    """Encode ``texts`` through the cache: each distinct text is encoded at most once per fingerprint, ever.

    Missing texts are encoded in order of length, ``batch`` at a time, so an encoder that pads a batch to
    its longest text pads little. ``keep=False`` only fills the cache (no cached vector is read) and
    returns an empty array.

    Every vector, encoded now or read from the cache, is checked (:func:`core.encoders.base.finite_vectors`):
    none with a NaN or an infinity is ever cached or returned.

    Returns:
        (vectors in input order, number of texts actually encoded now).

    Raises:
        NonFiniteError: the encoder produced (or the cache holds) a vector with a NaN or an infinity.
    """
    own = cache is None
    if own:
        cache = EmbeddingCache(encoder.fingerprint)
    try:
        unique = list(dict.fromkeys(texts))
        if keep:
            found = cache.get(unique)
            missing = [t for t in unique if t not in found]
        else:
            found, present = {}, cache.contains(unique)
            missing = [t for t in unique if t not in present]
        missing.sort(key=len)  # stable: equal lengths keep their first-seen order
        # Each batch is stored on a second thread while the next one is encoded (SQLite releases the GIL
        # while it writes); one put at a time, in order, each waited for before the next starts.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clir-cache") as writer:
            pending: Future | None = None
            for i in range(0, len(missing), batch):
                part = missing[i : i + batch]
                # Checked before the cache keeps them: a NaN vector cached would be read back by every run.
                vecs = finite_vectors(encoder.name, encoder.encode(part))
                if pending is not None:
                    pending.result()
                pending = writer.submit(cache.put, part, vecs)
                if keep:
                    found.update(zip(part, vecs))
                if on_progress:
                    on_progress(len(part))
            if pending is not None:
                pending.result()
        if not texts or not keep:
            return np.zeros((0, 0), dtype=np.float32), len(missing)
        # Cached vectors too: a cache filled before this check existed may hold NaN vectors.
        out = np.stack([found[t] for t in texts]).astype(np.float32, copy=False)
        return finite_vectors(encoder.name, out), len(missing)
    finally:
        if own:
            cache.close()
