"""How each encoder reads a document longer than its input: the windowing rule, never silent truncation.

A document of ``document`` mode (an NTREX-128 news story, ~16 sentences, up to ~1,100 tokens) is longer
than most encoders' input. Each encoder follows one of three rules, chosen by what it declares:

* **its own windows** (``long_inputs = "windows"``: e5-small, its torch port and every model trained from
  it): the whole text is tokenized and cut into windows of 510 tokens; the vector is the token-weighted
  mean of the windows' vectors, L2-normalised (e5.c's rule, shared by the port).
* **whole** (``long_inputs = "whole"``: USE-v3): the encoder reads any length in one pass.
* **sentence windows** (an encoder with ``max_tokens`` and ``token_counts``: sentence-transformers models,
  which would otherwise truncate at ``max_seq_length``): the document's sentences are packed in order into
  windows of at most ``max_tokens`` tokens (a sentence longer than that alone is cut at whitespace into
  pieces that fit); the vector is the token-weighted mean of the windows' vectors, L2-normalised. Every
  token of the document reaches the encoder.

An encoder that declares none of these cannot rank documents and is refused with one line.

A document's vector, once computed, is kept in the embedding cache of the encoder's document side under
:func:`document_key` of its text (never under the text itself, whose key means "``encode`` of this text",
which a truncating encoder would answer differently): exports and live search read it there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.encoders.base import Encoder, l2_normalise
from core.errors import ConfigError

#: Bumped when a rule's output could change: part of a document corpus's data fingerprint.
WINDOW_RULE_VERSION = 1
_DOCUMENT_PREFIX = f"\x00document-windows/v{WINDOW_RULE_VERSION}\x00"


def document_key(text: str) -> str:
    """The embedding-cache key of the vector of document ``text`` (its sentences joined) by the windowing
    rule: a prefix no typed text holds (a NUL), then the text."""
    return _DOCUMENT_PREFIX + text


EncodeFn = Callable[[Encoder, list[str], str], tuple[np.ndarray, int]]


def window_rule(encoder: Encoder) -> str:
    """The rule ``encoder`` follows for long documents, in words (see the module docstring).

    Raises:
        ConfigError: the encoder declares no rule (``encoder NAME cannot rank documents: ...``).
    """
    own = getattr(encoder, "long_inputs", None)
    if own == "windows":
        return "its own windows of 510 tokens, token-weighted mean"
    if own == "whole":
        return "the whole document in one pass"
    if getattr(encoder, "max_tokens", None) and callable(getattr(encoder, "token_counts", None)):
        return f"sentence windows of at most {encoder.max_tokens} tokens, token-weighted mean"
    raise ConfigError(
        f"encoder {encoder.name} cannot rank documents: it declares no rule for inputs longer than its "
        "window (core/encoders/windows.py), and it is never allowed to truncate silently"
    )


def _cut(sentence: str, count: int, limit: int) -> list[str]:
    # A sentence over the limit alone: cut at whitespace into about equal parts, each re-checked by the caller.
    words = sentence.split()
    parts = max(2, -(-count // limit))
    size = max(1, -(-len(words) // parts))
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)] or [sentence]


def pack_sentences(
    sentences: Sequence[str], limit: int, token_counts: Callable[[list[str]], list[int]], join: str = " "
) -> list[tuple[str, int]]:
    """Pack ``sentences`` in order into windows of at most ``limit`` tokens: ``[(window text, tokens)]``.

    Guarantees: windows keep the sentences' order and every word; a window is the sentences joined by
    ``join``; its token count is measured on the window itself; a single sentence over the limit is cut at
    whitespace (a single word over it stays whole: nothing is dropped). Token counts of the pieces are the
    encoder's (``token_counts``).

    Example:
        >>> count = lambda texts: [len(t.split()) for t in texts]
        >>> pack_sentences(["a b", "c d e", "f"], 4, count)
        [('a b', 2), ('c d e f', 4)]
    """
    pieces: list[str] = []
    for s, n in zip(sentences, token_counts(list(sentences))):
        if n <= limit or len(s.split()) <= 1:
            pieces.append(s)
            continue
        todo = [s]
        while todo:  # halve until every part fits (or is one word)
            part = todo.pop(0)
            (m,) = token_counts([part])
            if m <= limit or len(part.split()) <= 1:
                pieces.append(part)
            else:
                todo[:0] = _cut(part, m, limit)
    windows: list[tuple[str, int]] = []
    current: list[str] = []
    for piece in pieces:
        trial = join.join([*current, piece])
        (n,) = token_counts([trial])
        if current and n > limit:
            text = join.join(current)
            windows.append((text, token_counts([text])[0]))
            current = [piece]
        else:
            current.append(piece)
    if current:
        text = join.join(current)
        windows.append((text, token_counts([text])[0]))
    return windows


def document_vectors(
    encoder: Encoder,
    segments: Sequence[Sequence[str]],
    encode: EncodeFn,
    label: str = "documents",
    join: str = " ",
) -> tuple[np.ndarray, int]:
    """Vectors of documents given as their sentences, by ``encoder``'s rule (module docstring), and how many
    texts ``encode`` encoded now. ``encode(encoder, texts, label)`` is the caller's (cached) encoding.

    Guarantees: one unit row per document, in order; no token of a document is dropped.

    Raises:
        ConfigError: the encoder has no rule (:func:`window_rule`).
    """
    window_rule(encoder)
    docs = [join.join(s) for s in segments]
    if getattr(encoder, "long_inputs", None) in ("windows", "whole"):
        return encode(encoder, docs, label)
    texts: list[str] = []
    owner: list[int] = []
    weight: list[int] = []
    for i, sentences in enumerate(segments):
        for text, n in pack_sentences(list(sentences), encoder.max_tokens, encoder.token_counts, join):
            texts.append(text)
            owner.append(i)
            weight.append(max(n, 1))
    vectors, n_new = encode(encoder, texts, f"{label} ({len(texts)} windows)")
    sums = np.zeros((len(segments), vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, np.asarray(owner), vectors.astype(np.float64) * np.asarray(weight, np.float64)[:, None])
    return l2_normalise(sums), n_new
