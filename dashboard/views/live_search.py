"""Live search: type or pick a query, corrupt it, and watch every loaded encoder's top-10 side by side.

Encoders load once per server process; document vectors come from the precompute's embedding cache (keyed by
the fingerprint stored with the cells), so nothing is re-encoded except documents the cache lacks.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
import streamlit as st

from core.conditions import CLEAN_NOISE
from core.encoders.base import document_side
from core.errors import ClirError
from core.noise import apply_noise, list_noise_types
from core.ranking import rank_of
from dashboard import components as ui
from dashboard import data
from dashboard.views.per_query import TOP_COLUMNS

TITLE = "Live search"
MAX_CHARS = 2000  # longer queries are refused: Tatoeba sentences are < 300 characters
SOURCES = ("Pick a query from the data", "Type your own")


def check_query(text: str) -> str | None:
    """Why ``text`` cannot be searched (a message for the user), or None when it can.

    Refused: empty or whitespace-only, longer than :data:`MAX_CHARS`, containing NUL or other C0 control
    characters (tab and newline aside), or lone UTF-16 surrogates (not valid Unicode text). Everything else,
    RTL marks, ZWJ emoji sequences and HTML included, is searched and shown as text.
    """
    if not text or not text.strip():
        return "Type a query (it is empty)."
    if len(text) > MAX_CHARS:
        return f"The query has {len(text):,} characters; the limit is {MAX_CHARS:,}. Shorten it to search."
    if "\x00" in text:
        return "The query contains a NUL character (U+0000); remove it to search."
    bad = sorted(
        {f"U+{ord(ch):04X}" for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r"}
    )
    if bad:
        return f"The query contains control characters ({', '.join(bad[:5])}); remove them to search."
    if any(unicodedata.category(ch) == "Cs" for ch in text):
        return "The query contains lone surrogate code points, which are not valid Unicode text."
    return None


PER_ROW = 4
# Shown first: the base model, the two trained models the research answer compares, and USE-v3.
DEFAULT_ENCODERS = ("e5-small", "simcse-bitext-e5", "simcse-noisy-e5", "muse3")


def _controls(cond: pd.DataFrame):
    with st.sidebar:
        st.header("Search setup")
        dataset, mode = ui.dataset_mode("live", cond)
        sel = cond[(cond["dataset"] == dataset) & (cond["mode"] == mode)]
        lang = ui.language_select("live", sel, "Query language", prefer="amh")
        encoders = sorted(sel["encoder"].unique())
        preferred = [e for e in DEFAULT_ENCODERS if e in encoders]
        default = (
            encoders
            if len(encoders) <= PER_ROW
            else (preferred + [e for e in encoders if e not in preferred])[:PER_ROW]
        )
        chosen = st.multiselect("Encoders", encoders, default=default, key="live_encoders")
        noises = list_noise_types()
        noise = st.selectbox("Noise type", noises, index=noises.index("substitute") if "substitute" in noises
                             else 0, key="live_noise")  # fmt: skip
        level = st.slider("Noise level", 0.0, 0.5, 0.1, 0.05, key="live_level")
        seed = int(st.number_input("Seed", 0, 10_000, 0, 1, key="live_seed"))
    row = sel[(sel["lang"] == lang) & (sel["noise"] == CLEAN_NOISE)]
    corpus = row["corpus"].iloc[0] if not row.empty else sel["corpus"].iloc[0]
    return dataset, mode, lang, corpus, chosen, noise, level, seed


def _query(dataset: str, lang: str) -> tuple[str, int | None]:
    """The query text and its qid (None when typed)."""
    source = st.radio("Query", SOURCES, key="live_source", horizontal=True)
    if source == SOURCES[0]:
        texts = data.read("query_texts", dataset=dataset, lang=lang, limit=500)
        if texts.empty:
            st.info("No stored queries for this language; type one instead.")
            return "", None
        labels = [f"{i}: {t[:100]}" for i, t in zip(texts["qid"], texts["text"])]
        label = st.selectbox("Query from the data", labels, key="live_pick")
        qid = int(texts["qid"].iloc[labels.index(label)])
        return str(texts.set_index("qid").loc[qid, "text"]), int(qid)
    text = st.text_area(f"Your query (at most {MAX_CHARS:,} characters)", key="live_text", height=90,
                        placeholder="e.g. ቶም ብዙ ጊዜ ከውሻው ጋር ይናገራል።")  # fmt: skip
    return text, None


@ui.one_line_errors
def main() -> None:
    """Draw the page."""
    st.title(TITLE)
    if not ui.guard():
        return
    cond = data.read("conditions")
    dataset, mode, lang, corpus, encoders, noise, level, seed = _controls(cond)
    text, qid = _query(dataset, lang)
    problem = check_query(text)
    if problem:
        (st.info if not text.strip() else st.error)(problem)
        return
    if not encoders:
        st.info("Choose at least one encoder in the sidebar.")
        return
    try:
        res = apply_noise(text, noise, level, seed=seed, qid=qid if qid is not None else 0, lang=lang)
    except (ClirError, ValueError, TypeError) as exc:
        st.error(f"Cannot apply {noise} noise: {exc}")
        return
    ui.show_edits(text, res.edits, noisy_label=f"Noisy ({noise} @ {level:g}, seed {seed})", cer=res.cer)

    gold_id = None
    if qid is not None:
        gold = data.read("gold_document", corpus=corpus, lang=lang, qid=qid)
        if not gold.empty:
            gold_id = int(gold["doc_id"].iloc[0])
            ui.text_box(f"Gold document (doc {gold_id})", gold["text"].iloc[0])

    fps = data.read("encoders").drop_duplicates("encoder").set_index("encoder")["fingerprint"]
    n_docs = None
    # At most PER_ROW encoders side by side: with a dozen trained models, one row of columns is unreadable.
    cols = [c for start in range(0, len(encoders), PER_ROW)
            for c in st.columns(min(PER_ROW, len(encoders) - start))]  # fmt: skip
    for col, name in zip(cols, encoders):
        with col:
            st.markdown(f"#### {name}")
            enc, err = data.encoder(name)
            if enc is None:
                st.warning(f"{name} cannot load here: {err}")
                continue
            doc_side = document_side(enc)
            if doc_side is not enc:
                st.caption(f"Asymmetric: queries by {name}'s student, documents by {doc_side.name}.")
            stored_fp = fps.get(name)
            if stored_fp is not None and stored_fp != enc.fingerprint:
                st.caption(f"Note: this {name} differs from the one the DB was computed with (fingerprint "
                           f"{enc.fingerprint} vs {stored_fp}); documents use the loaded model's vectors.")  # fmt: skip
            try:
                index = data.doc_index(name, doc_side.fingerprint, corpus, data.stamp())
                top, scores, seconds, all_scores = data.search(name, index, res.noisy)
            except ClirError as exc:
                st.warning(str(exc))
                continue
            n_docs = len(index.texts)
            if index.encoded_now:
                st.info(f"{index.encoded_now} documents were not in the embedding cache; encoded once now.")
            st.metric("latency (encode + search)", f"{seconds * 1000:.0f} ms")
            if gold_id is not None and gold_id < len(index.matrix):
                st.caption(f"gold at rank **{rank_of(all_scores, gold_id)}** of {n_docs:,}")
            table = pd.DataFrame({
                "#": np.arange(1, len(top) + 1), "gold": ["✓" if gold_id == int(i) else "" for i in top],
                "cosine": np.round(scores.astype(float), 3), "document": [index.texts[int(i)] for i in top],
            })  # fmt: skip
            st.dataframe(
                table,
                hide_index=True,
                width="stretch",
                height=390,
                key=f"live_top_{name}",
                column_config=TOP_COLUMNS,
            )
    if n_docs:
        st.caption(f"Corpus `{corpus}`: {n_docs:,} English documents ({mode} mode). ✓ marks the gold "
                   "translation when the query comes from the data.")  # fmt: skip
    ui.language_expander([lang])
