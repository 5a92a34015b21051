"""Any sentence-transformers model: a hub id, a local folder, or a plain transformers checkpoint + pooling."""

from __future__ import annotations

import importlib
import logging
import os
import socket
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from core.encoders.base import fingerprint_of, folder_identity, l2_normalise
from core.errors import EncoderUnavailable

log = logging.getLogger(__name__)
POOLINGS = ("mean", "cls", "max")


def _hub_reachable(timeout: float = 3.0) -> str | None:
    """Return None if the hub's host answers a TCP connect, else the reason it does not."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return "HF_HUB_OFFLINE is set and the model is not in the local Hugging Face cache"
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as exc:
        return f"no network access to {host} ({exc.__class__.__name__}: {exc}) and not in the local cache"
    return None


def _resolve(name: str, model: str) -> tuple[str, str]:
    """Return (path or hub id to load, identity for the fingerprint).

    Hub models already in the local cache load from it (identity: the cached commit) so that a machine
    without network access can still use them; an uncached hub model is only tried when the hub answers,
    because transformers otherwise retries for over a minute before failing.
    """
    if model.startswith("package:"):
        module = model.removeprefix("package:")
        try:
            path = Path(importlib.import_module(module).get_model_path())
        except (ImportError, AttributeError) as exc:
            raise EncoderUnavailable(
                name, f"package {module} missing or has no get_model_path ({exc})"
            ) from exc
        return str(path), folder_identity(path)
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise EncoderUnavailable(name, f"{model} is a file, not a model folder")
        return str(path), folder_identity(path)
    if model.count("/") != 1:
        raise EncoderUnavailable(name, f"{model!r} is neither an existing folder nor a hub id 'org/name'")
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(model, local_files_only=True)
        return local, f"{model}@{Path(local).name}"
    except Exception:  # noqa: BLE001 - any cache miss means: go to the network
        reason = _hub_reachable()
        if reason:
            raise EncoderUnavailable(name, reason) from None
        return model, f"{model}@latest"


def _modules():
    """sentence-transformers' module classes (moved in release 6; older releases keep them in ``.models``)."""
    try:
        from sentence_transformers.sentence_transformer import modules
    except ImportError:  # pragma: no cover - sentence-transformers < 6
        from sentence_transformers import models as modules
    return modules


def describe(
    name: str, model: str, pooling: str | None = None, max_seq_length: int | None = 128
) -> tuple[dict, str]:
    """Return (spec, fingerprint) without loading the model: the shape every encoder kind's describe has.

    Raises:
        EncoderUnavailable: bad pooling, missing folder or package, or an uncached hub model with no network.
    """
    return _described(name, model, pooling, max_seq_length)[1:]


def _described(
    name: str, model: str, pooling: str | None, max_seq_length: int | None
) -> tuple[str, dict, str]:
    """(what to load, spec, fingerprint): :func:`describe` plus the resolved path or hub id."""
    if pooling is not None and pooling not in POOLINGS:
        raise EncoderUnavailable(name, f"pooling {pooling!r} not one of {', '.join(POOLINGS)}")
    source, identity = _resolve(name, model)
    spec = {
        "kind": "sentence-transformers",
        "model": model,
        "pooling": pooling,
        "max_seq_length": max_seq_length,
        "sentence_transformers": version("sentence-transformers"),
    }
    return source, spec, fingerprint_of({**spec, "identity": identity})


class SentenceTransformerEncoder:
    """A loaded sentence-transformers model; ``pooling`` rebuilds it from a plain checkpoint."""

    def __init__(
        self,
        name: str,
        model: str,
        *,
        pooling: str | None = None,
        max_seq_length: int | None = 128,
        batch_size: int = 64,
        device: str = "cpu",
    ):
        source, self.spec, self.fingerprint = _described(name, model, pooling, max_seq_length)
        try:
            from sentence_transformers import SentenceTransformer

            if pooling:
                word = _modules().Transformer(source, max_seq_length=max_seq_length)
                pool = _modules().Pooling(word.get_word_embedding_dimension(), pooling_mode=pooling)
                self._model = SentenceTransformer(modules=[word, pool], device=device)
            else:
                # trust_remote_code stays False: a hub model must not run code on this machine.
                self._model = SentenceTransformer(source, device=device, trust_remote_code=False)
        except Exception as exc:  # noqa: BLE001 - every loader failure becomes one clear line
            raise EncoderUnavailable(
                name, f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200]}"
            ) from exc
        if max_seq_length:
            self._model.max_seq_length = max_seq_length
        self.name, self.batch_size = name, batch_size

    @property
    def model(self):
        """The underlying ``SentenceTransformer`` (for training or plain ``encode``)."""
        return self._model

    def _dim(self) -> int:
        # sentence-transformers 6 renamed the method; keep working on both sides of the rename.
        get = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        return int(get())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``texts``; returns float32 unit rows in input order (shape (0, dim) for no texts)."""
        if not len(texts):
            return np.zeros((0, self._dim()), dtype=np.float32)
        emb = self._model.encode(
            list(texts), batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return l2_normalise(emb)


def trainable(name: str, spec: dict, max_seq_length: int):
    """A sentence-transformers base as a trainable ``SentenceTransformer`` on CPU.

    Returns:
        (model, fingerprint as :func:`describe` computes it for ``max_seq_length``, prompt: none, ``""``).

    Raises:
        EncoderUnavailable: it cannot load here (an uncached hub id with no network fails fast).
    """
    loaded = SentenceTransformerEncoder(
        name, spec["model"], pooling=spec.get("pooling"), max_seq_length=max_seq_length
    )
    return loaded.model, loaded.fingerprint, ""
