"""Any sentence-transformers model: a hub id, a local folder, or a plain transformers checkpoint + pooling."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

import numpy as np

from core.encoders import hub
from core.encoders.base import fingerprint_of, folder_identity, l2_normalise
from core.errors import EncoderUnavailable

log = logging.getLogger(__name__)
POOLINGS = ("mean", "cls", "max")


def _resolve(name: str, model: str, *, fetch: bool) -> tuple[str, str]:
    """Return (path or hub id to load, identity for the fingerprint).

    A hub id's identity is its commit (:mod:`core.encoders.hub`): the cached snapshot's when it is in the
    local Hugging Face cache (loaded from there, no network), else the commit the hub serves now, only asked
    for when the hub answers a TCP connect, because transformers otherwise retries for over a minute before
    failing. ``fetch``: download that commit's files and return their folder (loading); otherwise return the
    hub id (fingerprinting, which downloads nothing).
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
        cached = hub.cached_snapshot(model)
        if cached is not None:
            return str(cached), f"{model}@{cached.name}"
        reason = hub.unreachable_reason()
        if reason:
            raise EncoderUnavailable(name, reason)
        commit = hub.current_commit(model)
        # The commit looked up above is the one downloaded and loaded: the fingerprint names what is used.
        return (str(hub.download(model, commit)) if fetch else model), f"{model}@{commit}"
    except EncoderUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - an unknown repository, a refusal, a dropped connection: one line
        raise EncoderUnavailable(name, _one_line(exc)) from exc


def _one_line(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"


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

    A hub model's fingerprint includes its commit: the cached one, else the one the hub serves now (one API
    call, no download), which is the commit that loading it then downloads.

    Raises:
        EncoderUnavailable: bad pooling, missing folder or package, an uncached hub model with no network, or
            one the hub does not have.
    """
    return _described(name, model, pooling, max_seq_length, fetch=False)[1:]


def _described(
    name: str, model: str, pooling: str | None, max_seq_length: int | None, *, fetch: bool
) -> tuple[str, dict, str]:
    """(what to load, spec, fingerprint): :func:`describe` plus the resolved path (downloaded if ``fetch``)."""
    if pooling is not None and pooling not in POOLINGS:
        raise EncoderUnavailable(name, f"pooling {pooling!r} not one of {', '.join(POOLINGS)}")
    source, identity = _resolve(name, model, fetch=fetch)
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
        source, self.spec, self.fingerprint = _described(name, model, pooling, max_seq_length, fetch=True)
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
            raise EncoderUnavailable(name, _one_line(exc)) from exc
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

    @property
    def max_tokens(self) -> int:
        """Content tokens one input may hold (``max_seq_length`` less the two special tokens): what
        :mod:`core.encoders.windows` packs a document's sentences into, since ``encode`` truncates."""
        return max(1, int(self._model.max_seq_length) - 2)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Content tokens (no special tokens, untruncated) of each text, by the model's tokenizer."""
        ids = self._model.tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(i) for i in ids]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``texts``; returns float32 unit rows in input order (shape (0, dim) for no texts).
        Texts over :attr:`max_tokens` are truncated: documents go through :mod:`core.encoders.windows`."""
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
