"""Live search: type a query (Enter searches) or click an example, watch it get corrupted, and see each
encoder's top hits for the clean and the noisy query side by side, with every document's rank change.

Encoders load once per server process; document vectors come from the precompute's embedding cache (keyed by
the fingerprint stored with the cells), so nothing is re-encoded except documents the cache lacks. A query
that is one of the data's own queries is recognised (its gold translation is marked, and its noise uses the
query's id, so the noisy text equals the stored one for a stored condition).
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
import streamlit as st

from core.conditions import CLEAN_NOISE
from core.datasets.all_english import ALL_ENGLISH
from core.encoders.base import document_side
from core.errors import ClirError
from core.noise import apply_noise, list_noise_types
from core.ranking import ranks_of
from dashboard import components as ui
from dashboard import data
from dashboard import url_state as url
from dashboard.views.per_query import TOP_COLUMNS

TITLE = "Live search"
STORED = "stored"  # the corpus choice that searches the grid's stored corpus of the language
MAX_CHARS = 2000  # longer queries are refused: Tatoeba sentences are < 300 characters


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


# Shown first: the base model, the two trained models the research answer compares, and USE-v3.
DEFAULT_ENCODERS = ("e5-small", "simcse-bitext-e5", "simcse-noisy-e5", "muse3")
MAX_DEFAULT = 4  # a room reads four encoders' results; more can be added in the sidebar
N_EXAMPLES = 5
TOP_K = (5, 10, 20)


def _controls(cond: pd.DataFrame):
    with st.sidebar:
        st.header("Search setup")
        dataset, mode = ui.dataset_mode("live", cond)
        sel = cond[(cond["dataset"] == dataset) & (cond["mode"] == mode)]
        lang = ui.language_select("live", sel, "Query language", prefer="amh")
        encoders = sorted(sel["encoder"].unique())
        preferred = [e for e in DEFAULT_ENCODERS if e in encoders]
        default = (preferred + [e for e in encoders if e not in preferred])[:MAX_DEFAULT]
        chosen = url.multiselect("Encoders", encoders, key="live_encoders", default=default)
        noises = list_noise_types()
        noise = url.selectbox("Noise type", noises, key="live_noise", default="substitute")
        level = url.number("Noise level", "live_level", 0.0, 0.5, 0.1, step=0.05, slider=True)
        seed = url.number("Seed", "live_seed", 0, 10_000, 0, step=1)
        k = url.selectbox("Results per encoder", TOP_K, key="live_k", default=5)
        row = sel[(sel["lang"] == lang) & (sel["noise"] == CLEAN_NOISE)]
        corpus = row["corpus"].iloc[0] if not row.empty else sel["corpus"].iloc[0]
        pooled = data.pooled_english(dataset)
        names = {STORED: f"stored: {corpus} ({mode} mode)"}
        if pooled is not None:
            names[ALL_ENGLISH] = pooled.label
        which = url.selectbox("Corpus", list(names), key="live_corpus", default=STORED, format_func=names.get,
                              help="The corpus the grid stored for this language, or every language's English "
                                   "side in the data folder, pooled and deduplicated (no grid needs to store "
                                   "it; documents the embedding cache lacks are encoded once).")  # fmt: skip
    return dataset, mode, lang, corpus, which, chosen, noise, level, int(seed), int(k)


def examples(texts: pd.DataFrame, ranks: pd.DataFrame, level: float, n: int = N_EXAMPLES) -> pd.DataFrame:
    """Up to ``n`` demo queries (qid, text) of one language: short ones (15-80 characters) that the most
    encoders rank first when clean and lower under the stored noise at ``level`` (queries that *break*),
    then the shortest; deterministic for the same database."""
    ok = texts[texts["text"].str.len().between(15, 80)]
    if ok.empty:
        ok = texts
    score = pd.Series(0, index=ok["qid"])
    if not ranks.empty:
        wide = ranks.pivot_table(index=["encoder", "qid"], columns="level", values="rank", aggfunc="min")
        noisy = [c for c in wide.columns if c > 0]
        if 0.0 in wide.columns and noisy:
            at = min(noisy, key=lambda c: (abs(c - level), c))
            broke = (wide[0.0] == 1) & (wide[at] > 1)
            score = score.add(broke.groupby(level="qid").sum(), fill_value=0).reindex(ok["qid"]).fillna(0)
    order = pd.DataFrame({"qid": ok["qid"].to_numpy(), "text": ok["text"].to_numpy(),
                          "broke": score.to_numpy(), "length": ok["text"].str.len().to_numpy()})  # fmt: skip
    return order.sort_values(["broke", "length", "qid"], ascending=[False, True, True]).head(n)[
        ["qid", "text"]
    ]


def _use_example(texts: dict[str, str]) -> None:
    picked = st.session_state.get("live_example")
    if picked in texts:
        st.session_state["live_q"] = texts[picked]
    st.session_state["live_example"] = None  # a pill is a button here: the same example can be clicked again


def _next_seed() -> None:
    st.session_state["live_seed"] = min(10_000, int(st.session_state.get("live_seed", 0)) + 1)


def _query_box(dataset: str, mode: str, corpus: str, lang: str, noise: str, level: float) -> str:
    """The single-line query box (Enter searches; the first example until one is typed), the example pills
    and the new-sample button."""
    texts = data.read("query_texts", dataset=dataset, lang=lang)
    ranks = data.read("per_query_ranks", dataset=dataset, mode=mode, lang=lang, noise=noise, seed=0,
                      corpus=corpus)  # fmt: skip
    picks = examples(texts, ranks, level)
    # Pill labels are Markdown: a sentence of the data is escaped like any other text it shows.
    labels = {ui.safe(f"{t[:40]}{'…' if len(t) > 40 else ''}"): t for t in picks["text"]}
    left, right = st.columns([5, 1], vertical_alignment="bottom")
    with left:
        first = picks["text"].iloc[0] if len(picks) else ""
        text = url.text(f"Query in {ui.safe(ui.lang_name(lang))} (press Enter to search)", "live_q", first,
                        check=check_query, placeholder="e.g. ቶም ብዙ ጊዜ ከውሻው ጋር ይናገራል።")  # fmt: skip
    with right:
        st.button("New noise sample", key="live_resample", on_click=_next_seed, width="stretch",
                  help="Draw the noise again with the next seed.")  # fmt: skip
    if labels:
        st.pills("Examples from the data (queries that break under this noise first)", list(labels),
                 key="live_example", on_change=_use_example, args=(labels,))  # fmt: skip
    return text


def _stored_qid(dataset: str, lang: str, text: str) -> int | None:
    """The qid of ``text`` when it is one of the language's stored queries, else None."""
    texts = data.read("query_texts", dataset=dataset, lang=lang)
    hit = texts.loc[texts["text"] == text, "qid"]
    return int(hit.iloc[0]) if len(hit) else None


def _hits(ids, scores, other_ranks, gold_id, texts, other: str) -> pd.DataFrame:
    """One side's top-k: rank, gold mark, cosine, the document's move between the clean and the noisy
    ranking (▲ up, ▼ down, from clean to noisy; ``other #r`` when the other side ranks it below the top-k)."""
    moves = []
    for pos, there in enumerate(other_ranks.tolist(), start=1):
        up = there - pos if other == "clean" else pos - there  # positive: the noisy query ranks it higher
        if there > len(ids):
            moves.append(f"{other} #{there:,}")
        else:
            moves.append("=" if up == 0 else (f"▲ {up}" if up > 0 else f"▼ {-up}"))
    return pd.DataFrame({
        "#": np.arange(1, len(ids) + 1), "gold": ["✓" if gold_id == int(i) else "" for i in ids],
        "cosine": np.round(scores[ids].astype(float), 3), "change": moves,
        "document": [texts[int(i)] for i in ids],
    })  # fmt: skip


def _encoder_results(
    name: str, corpus: str, stamp, clean: str, noisy: str, k: int, gold_id: int | None, fps
) -> int:
    """Draw one encoder's clean and noisy results side by side; returns the corpus size (0 when it failed)."""
    shown = ui.safe(name)
    st.markdown(f"#### {shown}")
    enc, err = data.encoder(name)
    if enc is None:
        st.warning(f"{shown} cannot load here: {ui.safe(err)}")
        return 0
    doc_side = document_side(enc)
    if doc_side is not enc:
        st.caption(f"Asymmetric: queries by {shown}'s student, documents by {ui.safe(doc_side.name)}.")
    stored_fp = fps.get(name)
    if stored_fp is not None and stored_fp != enc.fingerprint:
        st.caption(f"Note: this {shown} differs from the one the DB was computed with (fingerprint "
                   f"{enc.fingerprint} vs {stored_fp}); documents use the loaded model's vectors.")  # fmt: skip
    try:
        index = data.doc_index(name, doc_side.fingerprint, corpus, stamp, data.index_kind())
        top, scores, seconds = data.search_cached(name, index, [clean, noisy], k)
    except ClirError as exc:
        st.warning(ui.safe(exc))
        return 0
    if index.encoded_now:
        st.info(f"{index.encoded_now:,} documents were not in the embedding cache; encoded once now.")
    if index.note:
        st.info(index.note)
    if not index.search_index.exact:
        st.warning(f"Approximate results: {index.search_index.label}. The lists may miss documents that an "
                   "exact search would show; the ranks are exact.", icon="⚠️")  # fmt: skip
    m1, m2, m3 = st.columns(3)
    m1.metric("latency (encode both + search)", f"{seconds * 1000:.0f} ms",
              help=f"Encoding the clean and the noisy query together, then each one's top-{k} from the FAISS "
                   f"index: {index.search_index.label}.")  # fmt: skip
    if gold_id is not None and gold_id < len(index.matrix):
        (gc, gn) = (int(ranks_of(scores[i], [gold_id])[0]) for i in (0, 1))
        m2.metric("gold rank, clean", f"{gc:,}")
        m3.metric("gold rank, noisy", f"{gn:,}", delta=f"{gc - gn:+,}" if gn != gc else None,
                  help="The arrow compares with the clean query: up (green) means the noise moved the gold "
                       "up, down (red) means it lost places.")  # fmt: skip
    left, right = st.columns(2)
    with left:
        st.caption("Clean query · change = where the noisy query puts the same document")
        st.dataframe(_hits(top[0], scores[0], ranks_of(scores[1], top[0]), gold_id, index.texts, "noisy"),
                     hide_index=True, width="stretch", key=f"live_clean_{name}", column_config=TOP_COLUMNS)  # fmt: skip
    with right:
        st.caption("Noisy query · change = against the clean query's ranking (▲ moved up)")
        st.dataframe(_hits(top[1], scores[1], ranks_of(scores[0], top[1]), gold_id, index.texts, "clean"),
                     hide_index=True, width="stretch", key=f"live_noisy_{name}", column_config=TOP_COLUMNS)  # fmt: skip
    return len(index.texts)


@ui.one_line_errors
def main() -> None:
    """Draw the page."""
    st.title(TITLE)
    if not ui.guard():
        return
    cond = data.read("conditions")
    dataset, mode, lang, corpus, which, encoders, noise, level, seed, k = _controls(cond)
    text = _query_box(dataset, mode, corpus, lang, noise, level)
    problem = check_query(text)
    if problem:
        (st.info if not text.strip() else st.error)(problem)
        return
    if not encoders:
        st.info("Choose at least one encoder in the sidebar.")
        return
    qid = _stored_qid(dataset, lang, text)
    pooled = data.pooled_english(dataset) if which == ALL_ENGLISH else None
    pooled_gold = pooled.gold_of(lang, text) if pooled is not None else None
    if pooled_gold is not None and qid is None:
        qid = pooled_gold[0]  # a query of the data folder the grid did not store: its line number
    try:
        res = apply_noise(text, noise, level, seed=seed, qid=qid if qid is not None else 0, lang=lang)
    except (ClirError, ValueError, TypeError) as exc:
        st.error(f"Cannot apply {ui.safe(noise)} noise: {ui.safe(exc)}")
        return
    ui.show_edits(text, res.edits, noisy_label=f"Noisy ({noise} @ {level:g}, seed {seed})", cer=res.cer)
    gold_id, stamp = None, data.stamp()
    if pooled is not None:
        corpus, stamp = ALL_ENGLISH, (pooled.corpus_id, len(pooled.documents))
        if pooled_gold is not None:
            gold_id = pooled_gold[1]
            langs = pooled.provenance[gold_id]
            ui.text_box(f"Query {pooled_gold[0]} of the data · gold document (doc {gold_id} of the pooled "
                        f"corpus, English side of {len(langs)} language{'s' if len(langs) > 1 else ''})",
                        pooled.documents[gold_id])  # fmt: skip
    elif qid is not None:
        gold = data.read("gold_document", corpus=corpus, lang=lang, qid=qid)
        if not gold.empty:
            gold_id = int(gold["doc_id"].iloc[0])
            ui.text_box(f"Query {qid} of the data · gold document (doc {gold_id})", gold["text"].iloc[0])
    fps = data.read("encoders").drop_duplicates("encoder").set_index("encoder")["fingerprint"]
    n_docs = 0
    for name in encoders:
        with st.container(border=True):
            n_docs = _encoder_results(name, corpus, stamp, text, res.noisy, k, gold_id, fps) or n_docs
    if n_docs:
        where = (
            f"{pooled.label}, deduplicated"
            if pooled is not None
            else f"{ui.safe(corpus)}, {ui.safe(mode)} mode"
        )
        st.caption(f"Corpus {where}: {n_docs:,} English documents. ✓ marks the gold translation when the "
                   "query is one of the data's queries.")  # fmt: skip
    ui.language_expander([lang])
