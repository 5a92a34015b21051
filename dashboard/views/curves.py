"""Degradation curves: a metric against noise level, one line per encoder, 95% bootstrap bands; robustness
summary, relative-drop heatmap and pairwise significance marks.

The language selector stays usable with FLORES-200's ~185 languages: it is searchable (type a name or a
code), a group selector adds (or keeps only) every language of a script or a resource class, and the chart
can facet by script as well as by resource class. The selection is in the URL as before."""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.conditions import CLEAN_NOISE
from core.languages import published_reference
from core.research import PUBLISHED_LABSE
from dashboard import components as ui
from dashboard import data
from dashboard import url_state as url

TITLE = "Degradation curves"
METRICS = {"MRR": "mrr", "MRR@10": "mrr@10", "accuracy@1 (recall@1)": "recall@1", "recall@5": "recall@5",
           "recall@10": "recall@10"}  # fmt: skip
FACETS = ("language", "resource class", "script", "all languages pooled")
MAX_LANGUAGE_PANELS = 12  # above this many languages the chart facets by resource class by default
SCALES = ("absolute", "relative to clean")
# Twelve colours told apart side by side (the demo database holds 12 encoders; 8 made two pairs share one),
# then the palette repeats dashed, then dotted.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
           "#bcbd22", "#393b79", "#e6ab02", "#111111")  # fmt: skip
LEGEND_SYMBOL = {"symbolType": "stroke", "symbolStrokeWidth": 2.5, "symbolOpacity": 1}  # a line, as drawn
DASHES = ((1, 0), (6, 3), (2, 2))  # stroke dash (on, off) of each pass through the palette
PUBLISHED_NAME = PUBLISHED_LABSE  # one label for LaBSE's published figures on every page and the README
# A five-pointed star as a Vega symbol path (unit size), for the published marks of the Vega-Lite chart.
STAR_PATH = ("M0,-1L0.2245,-0.309L0.9511,-0.309L0.3633,0.118L0.5878,0.809L0,0.382L-0.5878,0.809"
             "L-0.3633,0.118L-0.9511,-0.309L-0.2245,-0.309Z")  # fmt: skip


def style(encoder: str, all_encoders: list[str]) -> tuple[str, tuple[int, int]]:
    """A stable (colour, stroke dash) per encoder, from its index among every encoder in the DB: the first
    ``len(PALETTE)`` encoders get distinct colours, solid; the next ones the same colours dashed, then
    dotted, so that no two of ``len(PALETTE) * len(DASHES)`` encoders look alike."""
    i = all_encoders.index(encoder) if encoder in all_encoders else len(all_encoders)
    return PALETTE[i % len(PALETTE)], DASHES[(i // len(PALETTE)) % len(DASHES)]


def color(encoder: str, all_encoders: list[str]) -> str:
    """The colour of :func:`style`."""
    return style(encoder, all_encoders)[0]


def plotly_dash(encoder: str, all_encoders: list[str]) -> str:
    """The stroke dash of :func:`style` as plotly's ``line.dash``."""
    on, off = style(encoder, all_encoders)[1]
    return "solid" if not off else f"{on * 2}px,{off * 2}px"


def dash_encoding(encoders: list[str], all_encoders: list[str], columns: int = 5) -> dict:
    """Vega-Lite ``strokeDash`` for ``encoders`` (the :func:`style` dashes), or nothing when all are solid;
    its legend merges with the colour legend (same field, same title)."""
    dashes = [list(style(e, all_encoders)[1]) for e in encoders]
    if all(d == list(DASHES[0]) for d in dashes):
        return {}
    legend = alt.Legend(orient="top", title=None, columns=columns, **LEGEND_SYMBOL)
    return {
        "strokeDash": alt.StrokeDash(
            "encoder:N", scale=alt.Scale(domain=encoders, range=dashes), legend=legend
        )
    }


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def facet_map(langs: list[str], facet: str) -> dict[str, str] | None:
    """lang -> facet label for the chosen faceting (None: one facet per language)."""
    if facet == "resource class":
        return {lang: ui.resource_class(lang) for lang in langs}
    if facet == "script":
        return {lang: f"script {script or '?'}" for lang, script in ui.scripts(langs).items()}
    if facet == "all languages pooled":
        return dict.fromkeys(langs, "all languages (pooled queries)")
    return None


def figure(
    curve: pd.DataFrame,
    *,
    relative: bool,
    metric_label: str,
    all_encoders: list[str],
    facet_labels: dict[str, str],
    published: dict[str, float] | None = None,
) -> go.Figure:
    """Small multiples (one panel per facet) of value vs level with bootstrap bands."""
    facets = list(dict.fromkeys(curve.sort_values("facet")["facet"]))
    ncols = min(3, len(facets))
    nrows = math.ceil(len(facets) / ncols)
    fig = make_subplots(
        rows=nrows,
        cols=ncols,
        subplot_titles=[facet_labels.get(f, f) for f in facets],
        shared_xaxes=True,
        shared_yaxes=True,
        vertical_spacing=0.14 / max(1, nrows - 1) if nrows > 1 else 0.1,
        horizontal_spacing=0.04,
    )
    y, lo, hi = ("rel", "rel_low", "rel_high") if relative else ("value", "low", "high")
    for i, facet in enumerate(facets):
        row, col = i // ncols + 1, i % ncols + 1
        part = curve[curve["facet"] == facet]
        for enc, line in part.groupby("encoder", sort=True):
            line = line.sort_values("level")
            c = color(enc, all_encoders)
            fig.add_trace(
                go.Scatter(
                    x=np.concatenate([line["level"], line["level"][::-1]]),
                    y=np.concatenate([line[hi], line[lo][::-1]]),
                    mode="lines", fill="toself", fillcolor=_rgba(c, 0.18), line={"width": 0}, hoverinfo="skip",
                    showlegend=False, legendgroup=enc, name=f"{enc} 95% CI",
                ),
                row=row, col=col,
            )  # fmt: skip
            fig.add_trace(
                go.Scatter(
                    x=line["level"], y=line[y], mode="lines+markers", name=enc, legendgroup=enc,
                    showlegend=i == 0, marker={"size": 7},
                    line={"color": c, "width": 2.5, "dash": plotly_dash(enc, all_encoders)},
                    customdata=np.stack([line[lo], line[hi], line["n"]], axis=1),
                    hovertemplate=f"<b>{enc}</b><br>level %{{x}}<br>{metric_label} %{{y:.3f}}"
                    "<br>95% CI [%{customdata[0]:.3f}, %{customdata[1]:.3f}]<br>n=%{customdata[2]}<extra></extra>",
                ),
                row=row, col=col,
            )  # fmt: skip
        if published and facet in published and not relative:
            fig.add_trace(
                go.Scatter(
                    x=[0.0], y=[published[facet]], mode="markers", name=PUBLISHED_NAME,
                    legendgroup="published", showlegend=not any(t.name == PUBLISHED_NAME for t in fig.data),
                    marker={"symbol": "star-open", "size": 14, "color": "#444", "line": {"width": 2}},
                    hovertemplate="LaBSE accuracy@1 %{y:.3f}<br>published (MTEB), not measured here<extra></extra>",
                ),
                row=row, col=col,
            )  # fmt: skip
    height = max(380, 270 * nrows + 60)
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1 + 45 / (height - 90), "x": 0},
        template="plotly_white",
    )
    fig.update_xaxes(title_text="noise level", row=nrows)
    fig.update_yaxes(title_text=f"{metric_label}{' / clean' if relative else ''}", col=1)
    if not relative:
        fig.update_yaxes(range=[-0.02, 1.02])
    return fig


def chart(
    curve: pd.DataFrame,
    *,
    relative: bool,
    metric_label: str,
    all_encoders: list[str],
    facet_labels: dict[str, str],
    published: dict[str, float] | None = None,
) -> alt.FacetChart:
    """:func:`figure` as a Vega-Lite chart, what the page draws: the same panels (one per facet, three a row),
    lines, 95% bands, colours, hover details and published stars.

    Why: plotly.js (4.7 MB) had to load and compile in the browser before the page's answer could be drawn;
    Vega-Lite's bundle is smaller and its chart is built in milliseconds. PNG/SVG exports and the HTML
    report keep :func:`figure`.
    """
    y, lo, hi = ("rel", "rel_low", "rel_high") if relative else ("value", "low", "high")
    facets = list(dict.fromkeys(curve.sort_values("facet")["facet"]))
    panel = {f: facet_labels.get(f, f) for f in facets}
    rows = pd.DataFrame({
        "panel": curve["facet"].map(panel), "encoder": curve["encoder"], "level": curve["level"],
        "y": curve[y], "lo": curve[lo], "hi": curve[hi], "n": curve["n"], "kind": "curve",
    })  # fmt: skip
    if published and not relative:
        stars = [(panel[f], PUBLISHED_NAME, 0.0, published[f]) for f in facets if f in published]
        rows = pd.concat([rows, pd.DataFrame(stars, columns=["panel", "encoder", "level", "y"]).assign(
            kind="published")], ignore_index=True)  # fmt: skip
    encoders = sorted(curve["encoder"].unique())
    scale = alt.Scale(domain=encoders, range=[color(e, all_encoders) for e in encoders])
    y_title = f"{metric_label}{' / clean' if relative else ''}"
    y_scale = alt.Scale(zero=False) if relative else alt.Scale(domain=[-0.02, 1.02])
    x = alt.X("level:Q", title="noise level")
    base = alt.Chart(rows).transform_filter(alt.datum.kind == "curve")
    # One legend for bands and lines, drawn as the lines are (full colour, not the bands' 18% opacity).
    legend = alt.Legend(orient="top", title=None, columns=5, **LEGEND_SYMBOL)
    band = base.mark_area(opacity=0.18).encode(
        x=x, y=alt.Y("lo:Q", title=y_title, scale=y_scale), y2="hi:Q",
        color=alt.Color("encoder:N", scale=scale, legend=legend),
    )  # fmt: skip
    line = base.mark_line(point=alt.OverlayMarkDef(size=45), strokeWidth=2.5).encode(
        x=x, y=alt.Y("y:Q", title=y_title, scale=y_scale), color=alt.Color("encoder:N", scale=scale, legend=legend),
        **dash_encoding(encoders, all_encoders),
        tooltip=[alt.Tooltip("encoder:N"), alt.Tooltip("level:Q"), alt.Tooltip("y:Q", title=metric_label, format=".3f"),
                 alt.Tooltip("lo:Q", title="95% CI low", format=".3f"),
                 alt.Tooltip("hi:Q", title="95% CI high", format=".3f"), alt.Tooltip("n:Q")],
    )  # fmt: skip
    layers = [band, line]
    if (rows["kind"] == "published").any():
        layers.append(
            alt.Chart(rows).transform_filter(alt.datum.kind == "published").mark_point(
                shape=STAR_PATH, size=160, color="#444", filled=False, strokeWidth=2
            ).encode(x=x, y=alt.Y("y:Q", scale=y_scale),
                     tooltip=[alt.Tooltip("y:Q", title="LaBSE accuracy@1 (published, MTEB; not measured here)",
                                          format=".3f")])
        )  # fmt: skip
    return (
        alt.layer(*layers, data=rows)
        .properties(width=260, height=200)
        .facet(facet=alt.Facet("panel:N", title=None, sort=[panel[f] for f in facets]), columns=min(3, len(facets)))
        .resolve_scale(x="shared", y="shared")
    )  # fmt: skip


def heatmap(curve: pd.DataFrame, level: float, facet_labels: dict[str, str]) -> go.Figure:
    """Encoder x language relative drop (1 - noisy / clean) at ``level``."""
    at = curve[np.isclose(curve["level"], level)].copy()
    at["drop"] = 1 - at["rel"]
    wide = at.pivot_table(index="encoder", columns="facet", values="drop")
    fig = go.Figure(
        go.Heatmap(
            z=wide.to_numpy(), x=[facet_labels.get(c, c) for c in wide.columns], y=list(wide.index),
            colorscale="Reds", zmin=0, zmax=1, colorbar={"title": "drop"},
            text=[[("n/a" if np.isnan(v) else f"{v:.0%}") for v in r] for r in wide.to_numpy()],
            texttemplate="%{text}", hovertemplate="%{y} / %{x}<br>relative drop %{z:.1%}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(height=120 + 45 * len(wide), margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def language_axis(few: bool) -> alt.Axis:
    """The language axis of a heatmap: whole names, slanted; with ``few`` columns every one of them (Vega
    hid every other slanted label as overlapping: their boxes do, the texts do not), otherwise the ones that
    fit (a full study's ~100 columns)."""
    return alt.Axis(labelLimit=400, labelAngle=-45, labelOverlap=not few)


def heatmap_chart(curve: pd.DataFrame, level: float, facet_labels: dict[str, str]) -> alt.LayerChart:
    """:func:`heatmap` as a Vega-Lite chart (what the page draws): the same cells, values, colours and labels.

    Why: it was the Curves page's only plotly chart, so every fresh session loaded and compiled plotly.js
    (4.7 MB) while the curves were being drawn. PNG/SVG downloads keep :func:`heatmap`.
    """
    at = curve[np.isclose(curve["level"], level)]
    wide = at.assign(drop=1 - at["rel"]).pivot_table(index="encoder", columns="facet", values="drop")
    cells = wide.stack(future_stack=True).rename("drop").reset_index()
    cells["language"] = cells["facet"].map(lambda f: facet_labels.get(f, f))
    cells["label"] = cells["drop"].map(lambda v: "n/a" if np.isnan(v) else f"{v:.0%}")
    base = alt.Chart(cells[["encoder", "language", "drop", "label"]]).encode(
        x=alt.X("language:N", sort=[facet_labels.get(f, f) for f in wide.columns], title=None,
                axis=language_axis(wide.shape[1] <= 30)),
        y=alt.Y("encoder:N", sort=list(wide.index), title=None, axis=alt.Axis(labelLimit=400)),
        tooltip=[alt.Tooltip("encoder:N"), alt.Tooltip("language:N"),
                 alt.Tooltip("drop:Q", title="relative drop", format=".1%")],
    )  # fmt: skip
    rect = base.mark_rect().encode(
        color=alt.Color("drop:Q", title="drop", scale=alt.Scale(scheme="reds", domain=[0, 1]))
    )
    text = base.mark_text(fontSize=11).encode(
        text="label:N", color=alt.condition(alt.datum.drop > 0.6, alt.value("white"), alt.value("black"))
    )
    return alt.layer(rect, text).properties(height={"step": 36})


# Building a full study's figure (subplots, dozens of traces) took ~0.5 s of every page load; the figures
# depend only on their arguments, so every session shares one (read-only: nothing mutates a shown figure).
_figure = st.cache_resource(show_spinner=False, max_entries=32)(figure)
_heatmap = st.cache_resource(show_spinner=False, max_entries=32)(heatmap)
_heatmap_chart = st.cache_resource(show_spinner=False, max_entries=32)(heatmap_chart)
_chart = st.cache_resource(show_spinner=False, max_entries=32)(chart)


LANGS_KEY = "curves_langs"
GROUP_KEY = "curves_group"  # not in the URL: an action on the language list, whose result is


def groups_of(langs: list[str]) -> dict[str, list[str]]:
    """Group label -> its languages among ``langs``: one group per script (``"script Ethi (3)"``), then one per
    resource class (``"class 1 The Scraping-Bys (40)"``, ``"class unknown resource class (2)"``), each in
    ``langs``' order; scripts by size (largest first), classes in class order."""
    scripts, classes = {}, {}
    for lang, script in ui.scripts(langs).items():
        scripts.setdefault(script or "?", []).append(lang)
    for lang in langs:
        classes.setdefault(ui.resource_class(lang), []).append(lang)
    out = {
        f"script {k} ({len(v)})": v for k, v in sorted(scripts.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    }
    out.update({f"class {k} ({len(v)})": v for k, v in sorted(classes.items())})
    return out


def _apply_group(groups: dict[str, list[str]], how: str) -> None:
    """Callback of the group buttons: add the chosen group's languages to the selection, keep only them, or
    clear the selection (runs before the page, so the language selector is drawn with the new list)."""
    chosen = groups.get(st.session_state.get(GROUP_KEY), [])
    current = [x for x in st.session_state.get(LANGS_KEY) or [] if isinstance(x, str)]
    if how == "clear":
        st.session_state[LANGS_KEY] = []
    elif how == "only":
        st.session_state[LANGS_KEY] = list(chosen)
    else:
        st.session_state[LANGS_KEY] = current + [x for x in chosen if x not in current]


def language_groups(all_langs: list[str]) -> None:
    """The "Language group" selector and its Add / Only / Clear buttons (above the language selector)."""
    groups = groups_of(all_langs)
    st.selectbox("Language group", list(groups), key=GROUP_KEY, index=None,
                 placeholder="A script or a resource class", help="Add every language of a script or a "
                 "resource class to the selection below (Add), or select only them (Only).")  # fmt: skip
    row = st.container(horizontal=True)
    chosen = st.session_state.get(GROUP_KEY) in groups
    row.button(
        "Add", key="curves_group_add", on_click=_apply_group, args=(groups, "add"), disabled=not chosen
    )
    row.button(
        "Only", key="curves_group_only", on_click=_apply_group, args=(groups, "only"), disabled=not chosen
    )
    row.button("Clear", key="curves_group_clear", on_click=_apply_group, args=(groups, "clear"))


def _controls(cond: pd.DataFrame) -> dict | None:
    with st.sidebar:
        st.header("Selection")
        dataset, mode = ui.dataset_mode("curves", cond)
        sel = cond[(cond["dataset"] == dataset) & (cond["mode"] == mode)]
        corpus = ui.corpus_select("curves", sel)
        if corpus is not None:
            sel = sel[sel["corpus"] == corpus]
        noises = sorted(n for n in sel["noise"].unique() if n != CLEAN_NOISE)
        if not noises:
            st.info("Only clean cells are stored for this mode: no noise type to plot yet.")
            return None
        noise = url.selectbox("Noise type", noises, key="curves_noise")
        metric_label = url.selectbox("Metric", list(METRICS), key="curves_metric")
        all_enc = sorted(sel["encoder"].unique())
        encoders = url.multiselect("Encoders", all_enc, key="curves_encoders")
        all_langs = sorted(sel["lang"].unique())
        language_groups(all_langs)
        langs = url.multiselect("Languages", all_langs, key="curves_langs", format_func=ui.lang_name,
                                placeholder=f"Type to search {len(all_langs)} languages")  # fmt: skip
        seeds_avail = sorted(sel.loc[sel["noise"] == noise, "seed"].unique().tolist())
        seeds = url.multiselect(
            "Seeds (averaged)", seeds_avail, key="curves_seeds",
            help="Per-query scores are averaged over the chosen seeds before bootstrapping.",
        )  # fmt: skip
        # One panel per language is unreadable (and slow to draw) for a full study's ~100 languages: there the
        # default groups languages by resource class; the per-language view stays one click away.
        facet = url.radio("Facet by", FACETS, key="curves_facet",
                          default=FACETS[1] if len(all_langs) > MAX_LANGUAGE_PANELS else FACETS[0])  # fmt: skip
        scale = url.radio("Scale", SCALES, key="curves_scale", horizontal=True)
    if not encoders or not langs or not seeds:
        st.info("Choose at least one encoder, one language and one seed in the sidebar.")
        return None
    return {"dataset": dataset, "mode": mode, "noise": noise, "metric_label": metric_label,
            "metric": METRICS[metric_label], "encoders": encoders, "langs": langs, "seeds": seeds,
            "facet": facet, "relative": scale != "absolute", "all_encoders": sorted(cond["encoder"].unique()),
            "corpus": corpus}  # fmt: skip


@ui.one_line_errors
def main() -> None:
    """Draw the page."""
    st.title(TITLE)
    if not ui.guard():
        return
    cond = data.read("conditions")
    c = _controls(cond)
    if c is None:
        return
    if notice := data.query_set_notice(dataset=c["dataset"], mode=c["mode"], corpus=c["corpus"]):
        st.warning(ui.safe(notice))  # the curves below leave these cells out: say so
    facets = facet_map(c["langs"], c["facet"])
    _, curve = data.curve(c["dataset"], c["mode"], c["noise"], c["encoders"], c["langs"], c["seeds"],
                               c["metric"], facets, corpus=c["corpus"])  # fmt: skip
    if curve.empty:
        st.warning("No stored ranks for this selection (a missing cell?). See the Runs page for coverage.")
        return
    labels = {lang: ui.lang_name(lang) for lang in c["langs"]} if facets is None else {}
    published = None
    if facets is None and c["mode"] == "pair" and c["metric"] in ("recall@1", "mrr"):
        published = {k: v for k, v in published_reference().items() if k in c["langs"]}
    st.caption(
        f"{c['metric_label']} on **{ui.safe(c['noise'])}** noise, {ui.safe(c['mode'])} mode, seeds {c['seeds']} "
        "averaged; bands are "
        "95% percentile bootstrap intervals over query buckets (paired across levels)."
        + (" Stars: LaBSE's accuracy@1 on clean queries as **published** by MTEB, not measured here." if published else "")
    )  # fmt: skip
    args = {"relative": c["relative"], "metric_label": c["metric_label"], "all_encoders": c["all_encoders"],
            "facet_labels": labels, "published": published}  # fmt: skip
    st.altair_chart(_chart(curve, **args), key="curves_chart")
    ui.chart_downloads(
        lambda: _figure(curve, **args), f"curves-{c['noise']}-{c['metric']}", "curves_chart_dl"
    )
    ui.language_expander(c["langs"])

    st.subheader("Robustness summary")
    from dashboard.analysis import robustness_table

    table = robustness_table(curve, c["metric_label"])
    table["facet"] = table["facet"].map(lambda f: labels.get(f, f))
    st.dataframe(table, hide_index=True, width="stretch", key="curves_table",
                 column_config={col: st.column_config.NumberColumn(format="%.3f")
                                for col in table.columns if col not in ("facet", "encoder", "n", "half-level")})  # fmt: skip
    ui.table_downloads(table, f"robustness-{c['noise']}-{c['metric']}", "curves_table_dl",
                       caption=f"Robustness under {c['noise']} noise ({c['metric_label']}).")  # fmt: skip
    st.caption(
        "AUC: area under the curve divided by the level range (the curve's mean height). Half-level: the "
        "noise level (interpolated) at which the metric falls to half its clean value; 'never' within the "
        "grid."
    )
    st.session_state["curves_selection"] = {
        k: c[k] for k in ("dataset", "mode", "noise", "encoders", "langs")
    }

    # A full study's per-language heatmap (100+ columns) and pairwise table cost the browser seconds on every
    # page load, before the chart was drawn: above MAX_LANGUAGE_PANELS languages they are built on demand.
    if len(c["langs"]) > MAX_LANGUAGE_PANELS:
        with ui.lazy_expander(
            "Relative drop by language and pairwise comparison", "curves_extras_open"
        ) as open_:
            if open_:
                _extras(c, curve, facets)
    else:
        _extras(c, curve, facets)


def _extras(c: dict, curve: pd.DataFrame, facets: dict[str, str] | None) -> None:
    """The relative-drop heatmap by language and the pairwise comparison of two encoders."""
    levels = sorted(x for x in curve["level"].unique() if x > 0)
    left, right = st.columns(2)
    with left:
        st.subheader("Relative drop by language")
        if levels:
            level = url.select_slider("At level", levels, key="curves_heat_level")
            # The heatmap shows values only: per-language bands (hundreds of bootstraps) are not needed.
            per_lang = curve if facets is None else data.curve(
                c["dataset"], c["mode"], c["noise"], c["encoders"], c["langs"], c["seeds"], c["metric"], None,
                n_boot=0, corpus=c["corpus"])[1]  # fmt: skip
            st.altair_chart(_heatmap_chart(per_lang, level, {}), width="stretch", key="curves_heatmap")
            ui.chart_downloads(lambda: _heatmap(per_lang, level, {}), f"drop-by-language-{c['noise']}-{level:g}",
                               "curves_heatmap_dl")  # fmt: skip
            st.caption(f"1 - {c['metric_label']}(level) / {c['metric_label']}(clean); n/a where clean is 0.")
    with right:
        st.subheader("Pairwise comparison")
        if len(c["encoders"]) < 2:
            st.info("Select two or more encoders to compare them.")
        else:
            a = url.selectbox("Encoder A", c["encoders"], key="curves_pair_a")
            b = url.selectbox("Encoder B", [e for e in c["encoders"] if e != a], key="curves_pair_b")
            pw = data.pairwise(c["dataset"], c["mode"], c["noise"], c["encoders"], c["langs"], c["seeds"],
                               c["metric"], a, b, c["corpus"])  # fmt: skip
            if pw.empty:
                st.info("The two encoders share no queries in this selection.")
            else:
                pw["cell"] = pw["delta"].map("{:+.3f}".format) + " " + pw["mark"]
                wide = pw.pivot(index="lang", columns="level", values="cell")
                wide.index = [ui.lang_name(x) for x in wide.index]
                wide.columns = ["clean" if lv == 0 else f"@{lv:g}" for lv in wide.columns]
                st.dataframe(wide, width="stretch", key="curves_pairwise")
                st.caption(
                    f"Mean per-query {c['metric_label']} of {ui.safe(a)} minus {ui.safe(b)}; paired randomization "
                    "test over "
                    "query buckets (32 fixed buckets of queries; 2,000 sign flips), Holm-corrected across languages at each level: *** p<.001, "
                    "** p<.01, * p<.05, n.s. not significant (with 2,000 permutations the smallest attainable "
                    "adjusted p is about 0.0005 x the number of languages)."
                )
