"""Per-query diffs: each query's clean rank -> noisy rank per encoder, filters for breaks, flip tracking
across levels, and the edits, gold document and top-5 of a selected query."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.conditions import CLEAN_NOISE
from dashboard import components as ui
from dashboard import data
from dashboard import url_state as url
from dashboard.views.curves import LEGEND_SYMBOL, color, dash_encoding, plotly_dash

TITLE = "Per-query diffs"
PER_ROW = 4
TOP_COLUMNS = {
    "#": st.column_config.NumberColumn(width=40),
    "gold": st.column_config.TextColumn(width=50),
    "cosine": st.column_config.NumberColumn(width=70, format="%.3f"),
    "document": st.column_config.TextColumn(width="large"),
}
FILTERS = ("all queries", "broke for A but not for B", "correct at clean, wrong at this level")


def diff_table(ranks: pd.DataFrame, level: float, encoders: list[str]) -> pd.DataFrame:
    """Wide table, one row per qid: ``<enc> clean``, ``<enc> noisy``, ``<enc> drop`` (noisy - clean rank)
    and ``<enc> flips`` (times correctness at rank 1 changes along the levels)."""
    out = None
    for enc in encoders:
        r = ranks[ranks["encoder"] == enc]
        wide = r.pivot_table(index="qid", columns="level", values="rank", aggfunc="first")
        if 0.0 not in wide.columns or level not in wide.columns:
            continue
        wide = wide.reindex(sorted(wide.columns), axis=1)
        correct = (wide.to_numpy() == 1).astype(np.int8)
        flips = np.abs(np.diff(correct, axis=1)).sum(axis=1) if correct.shape[1] > 1 else 0
        part = pd.DataFrame(
            {f"{enc} clean": wide[0.0], f"{enc} noisy": wide[level], f"{enc} flips": flips}, index=wide.index
        )
        part[f"{enc} drop"] = part[f"{enc} noisy"] - part[f"{enc} clean"]
        out = part if out is None else out.join(part, how="outer")
    return pd.DataFrame() if out is None else out


def _controls(cond: pd.DataFrame):
    with st.sidebar:
        st.header("Selection")
        dataset, mode = ui.dataset_mode("pq", cond)
        sel = cond[(cond["dataset"] == dataset) & (cond["mode"] == mode)]
        corpus = ui.corpus_select("pq", sel)
        if corpus is not None:
            sel = sel[sel["corpus"] == corpus]
        lang = ui.language_select("pq", sel)
        sel = sel[sel["lang"] == lang]
        noises = sorted(n for n in sel["noise"].unique() if n != CLEAN_NOISE)
        if not noises:
            st.info(
                f"No noisy cells are stored for {ui.safe(ui.lang_name(lang))} in {ui.safe(mode)} mode yet."
            )
            return None
        noise = url.selectbox("Noise type", noises, key="pq_noise")
        seeds = sorted(sel.loc[sel["noise"] == noise, "seed"].unique().tolist())
        seed = url.selectbox("Seed", seeds, key="pq_seed") if len(seeds) > 1 else seeds[0]
        levels = sorted(sel.loc[sel["noise"] == noise, "level"].unique().tolist())
        level = url.select_slider("Noise level", levels, key="pq_level")
        encoders = sorted(sel["encoder"].unique())
    if corpus is None and sel["corpus"].nunique() == 1:
        corpus = sel["corpus"].iloc[0]
    return dataset, mode, lang, noise, seed, level, encoders, corpus


def _flip_chart(ranks: pd.DataFrame, qid: int, encoders: list[str], all_enc: list[str]) -> go.Figure:
    fig = go.Figure()
    for enc in encoders:
        r = ranks[(ranks["encoder"] == enc) & (ranks["qid"] == qid)].sort_values("level")
        fig.add_trace(go.Scatter(x=r["level"], y=r["rank"], mode="lines+markers", name=enc,
                                 line={"color": color(enc, all_enc), "width": 2.5,
                                       "dash": plotly_dash(enc, all_enc)}))  # fmt: skip
    fig.update_yaxes(type="log", autorange="reversed", dtick=1, title_text="rank of the gold (log)")
    fig.update_xaxes(title_text="noise level")
    fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10}, template="plotly_white",
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})  # fmt: skip
    return fig


def flip_chart_vl(ranks: pd.DataFrame, qid: int, encoders: list[str], all_enc: list[str]) -> alt.Chart:
    """:func:`_flip_chart` as a Vega-Lite chart (what the page draws): the same lines, colours and log axis.

    Why: the page's only chart made the browser load plotly.js (4.7 MB), which delayed the query table by
    about two seconds on a fresh session; Vega-Lite's bundle is smaller. PNG/SVG exports stay plotly's."""
    r = ranks[(ranks["qid"] == qid) & ranks["encoder"].isin(encoders)][["encoder", "level", "rank"]]
    scale = alt.Scale(domain=list(encoders), range=[color(e, all_enc) for e in encoders])
    return (
        alt.Chart(r.sort_values(["encoder", "level"]))
        .mark_line(point=alt.OverlayMarkDef(size=50), strokeWidth=2.5)
        .encode(
            x=alt.X("level:Q", title="noise level"),
            y=alt.Y("rank:Q", title="rank of the gold (log)", scale=alt.Scale(type="log", reverse=True)),
            color=alt.Color(
                "encoder:N",
                scale=scale,
                legend=alt.Legend(orient="top", title=None, columns=6, **LEGEND_SYMBOL),
            ),
            **dash_encoding(list(encoders), all_enc, columns=6),
            tooltip=["encoder", "level", "rank"],
        )
        .properties(height=240)
    )


@ui.one_line_errors
def main() -> None:
    """Draw the page."""
    st.title(TITLE)
    if not ui.guard():
        return
    cond = data.read("conditions")
    picked = _controls(cond)
    if picked is None:
        return
    dataset, mode, lang, noise, seed, level, encoders, corpus = picked
    if notice := data.query_set_notice(dataset=dataset, mode=mode, corpus=corpus, lang=lang):
        st.warning(ui.safe(notice))  # the ranks below leave these cells out: say so
    # One row per query needs one corpus: pooled grids of other language sets rank the same qids again.
    ranks = data.read("per_query_ranks", dataset=dataset, mode=mode, lang=lang, noise=noise, seed=seed,
                      corpus=corpus)  # fmt: skip
    table = diff_table(ranks, level, encoders)
    if table.empty:
        st.warning(f"No clean and noisy ranks stored together for {ui.safe(ui.lang_name(lang))} at level "
                   f"{level:g}.")  # fmt: skip
        return
    present = [e for e in encoders if f"{e} clean" in table.columns]
    texts = data.read("query_texts", dataset=dataset, lang=lang).set_index("qid")["text"]
    noisy = data.read("noisy_texts", dataset=dataset, lang=lang, noise=noise, level=level, seed=seed)
    noisy = noisy.set_index("qid")
    table.insert(0, "query", texts.reindex(table.index).fillna(""))
    table.insert(1, "noisy query", noisy["noisy"].reindex(table.index).fillna(""))
    st.caption(
        f"{ui.safe(ui.lang_name(lang))} · {ui.resource_class(lang)} · {ui.safe(mode)} mode · "
        f"{ui.safe(noise)} at level {level:g}, seed {seed} · {len(table)} queries. Rank 1 = the gold translation ranked first; drop = noisy rank - "
        "clean rank; flips = how often rank-1 correctness changes along the levels."
    )

    c1, c2, c3 = st.columns([2, 1, 1])
    with c1:
        filt = url.radio("Show", FILTERS, key="pq_filter", horizontal=True)
    with c2:
        enc_a = url.selectbox("Encoder A", present, key="pq_enc_a")
    others = [e for e in present if e != enc_a]
    with c3:
        enc_b = url.selectbox("Encoder B", others, key="pq_enc_b") if others else None
    view = table
    broke_a = (table[f"{enc_a} clean"] == 1) & (table[f"{enc_a} noisy"] > 1)
    if filt == FILTERS[1]:
        if enc_b is None:
            st.info("Only one encoder is stored here: 'broke for A but not for B' needs two.")
        else:
            view = table[broke_a & ~((table[f"{enc_b} clean"] == 1) & (table[f"{enc_b} noisy"] > 1))]
    elif filt == FILTERS[2]:
        view = table[broke_a]
    sort_by = url.selectbox("Sort by", [f"{e} drop" for e in present] + [f"{e} flips" for e in present] + ["qid"],
                           key="pq_sort")  # fmt: skip
    view = (
        view.sort_index() if sort_by == "qid" else view.sort_values(sort_by, ascending=False, kind="stable")
    )
    st.markdown(f"**{len(view)}** of {len(table)} queries")
    event = st.dataframe(
        view.reset_index(), hide_index=True, width="stretch", height=320, key="pq_table",
        on_select="rerun", selection_mode="single-row",
        column_config={"qid": st.column_config.NumberColumn(width="small"),
                       **{f"{e} drop": st.column_config.NumberColumn(format="%+d") for e in present}},
    )  # fmt: skip
    if view.empty:
        st.info("No query matches this filter.")
        return

    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    qids = view.index.tolist()
    if rows and rows[0] < len(qids):  # a row picked in the table is the query to inspect
        st.session_state["pq_qid"] = qids[rows[0]]
    qid = url.selectbox("Query to inspect (or select a row above)", qids, key="pq_qid",
                        format_func=lambda i: f"{i}: {texts.get(i, '')[:80]}")  # fmt: skip

    st.subheader(f"Query {qid}")
    if qid in noisy.index:
        n = noisy.loc[qid]
        ui.show_edits(texts.get(qid, ""), n["edits_json"], noisy_label=f"Noisy ({noise} @ {level:g})",
                      cer=float(n["cer"]))  # fmt: skip
    else:
        ui.text_box("Clean", texts.get(qid, ""))
    tops = data.read("query_top", dataset=dataset, mode=mode, lang=lang, noise=noise, level=level, seed=seed,
                     qid=qid)  # fmt: skip
    if corpus is not None:
        tops = tops[tops["corpus"] == corpus]
    if not tops.empty:
        gold = data.read("gold_document", corpus=tops["corpus"].iloc[0], lang=lang, qid=qid)
        if not gold.empty:
            ui.text_box(f"Gold document (doc {int(gold['doc_id'].iloc[0])})", gold["text"].iloc[0])
    st.markdown("**Rank across levels (flip tracking)**")
    all_enc = sorted(cond["encoder"].unique())
    st.altair_chart(flip_chart_vl(ranks, qid, present, all_enc), width="stretch", height=360, key="pq_flip")
    ui.chart_downloads(lambda: _flip_chart(ranks, qid, present, all_enc), f"rank-across-levels-{lang}-{qid}",
                       "pq_flip_dl", height=400)  # fmt: skip
    st.markdown("**Each encoder's top-5 under the noisy query**")
    if tops.empty:
        st.info("No stored top-k for this query.")
    # Four encoders per row: a dozen side by side leaves each a few characters wide.
    n = tops["encoder"].nunique()
    cols = [c for start in range(0, n, PER_ROW) for c in st.columns(PER_ROW)] if n else []
    for col, (enc, part) in zip(cols, tops.groupby("encoder", sort=True)):
        with col:
            # Bold, not a code span: an entity inside a code span would be shown as its source.
            st.markdown(f"**{ui.safe(enc)}** · gold at rank **{int(part['rank'].iloc[0])}**")
            show = pd.DataFrame({
                "#": part["pos"].astype(int), "gold": np.where(part["is_gold"], "✓", ""),
                "cosine": part["score"].round(3), "document": part["text"].fillna(""),
            })  # fmt: skip
            st.dataframe(
                show, hide_index=True, width="stretch", key=f"pq_top_{enc}", column_config=TOP_COLUMNS
            )
    ui.language_expander([lang])
