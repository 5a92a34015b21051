"""Findings: the research answer for the current database, generated from its per-query ranks.

How much more or less the SimCSE models lose under typos than LaBSE's objective on the same base
(``labse-e5``) and than LaBSE itself (``labse``, where measured), and which encoder breaks least, on low- and
high-resource languages: generated sentences per resource group, the robustness table (clean MRR and relative
drops with 95% paired bootstrap intervals; one row per model family, training seeds averaged) with
Holm-corrected paired tests against a reference model, the chart that tells the story, LaBSE's published
figures as labelled markers, and the caveats that apply. The same numbers as the README's results
(``core.research``).

A dataset selector (when the database holds several) switches the whole page; the sentences name the dataset.
On multi-way parallel data (FLORES-200, NTREX-128) the answer is over the languages no compared model trained
on (the page says how many), every language is marked seen / unseen per model, and a panel shows every
language's relative drop against its resource class and script, with the rank correlation of class and drop
and the languages that break most and least (``core.research.language_breakdown``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.languages import published_reference, resource_class_label
from core.research import (
    BEST,
    COMPARATORS,
    DASHBOARD_REFERENCES,
    FLOOR_MRR,
    LABSE,
    MEAN,
    TRAINED_PREFIXES,
    UNKNOWN,
    Breakdown,
    Scope,
    breaking_languages,
    comparison_headlines,
    dataset_title,
    default_condition,
    fmt_ci,
    group_label,
    headlines,
    scope_notes,
    seeds_text,
    significance_marks,
)
from dashboard import components as ui
from dashboard import data
from dashboard import url_state as url
from dashboard.report import build_report
from dashboard.views.curves import PALETTE, PUBLISHED_NAME

TITLE = "Findings"
NOISE_COLOURS = {"substitute": PALETTE[0], "keyboard": PALETTE[1], "delete": PALETTE[2], MEAN: "#444444"}


def _drop_tag(quantity: str) -> tuple[str, float] | None:
    """``"drop substitute 0.2"`` -> ``("substitute", 0.2)``; None for other quantities."""
    parts = quantity.split(" ")
    return (parts[1], float(parts[2])) if len(parts) == 3 and parts[0] == "drop" else None


def robustness_view(
    answer, reference: str | None, groups: dict[str, list[str]] | None = None, noises: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The robustness table as strings (value [CI]), with ▲/▼ where the Holm-adjusted paired test against
    ``reference`` is significant (▲ higher than the reference, ▼ lower), AUC and level at half of clean
    where the answer has them, each row's training ``seeds`` (a family's seeds are averaged into one row),
    and LaBSE's published accuracy@1 (mean over each group's languages) as a clearly labelled extra row. Most
    robust first within each group, floors last. ``noises`` (default all) limits the drop columns to those
    noise types (e.g. ``(MEAN,)`` for the headline table)."""
    marks = significance_marks(answer.tests, reference) if reference else {}
    rows = []
    # Most robust first within each group (mean drop at the highest level), floors last: the order answers
    # "which encoder breaks least" before anyone reads a number.
    rob = answer.robustness.copy()
    means = [f"{n} {lv:g}" for n, lv in answer.conditions if n == MEAN]
    rob["_floor"] = ~(rob.get("clean", pd.Series(0.0, index=rob.index)) >= FLOOR_MRR)
    rob["_drop"] = rob[means[-1]] if means else 0.0
    rob["_group"] = rob["group"].map({g: i for i, g in enumerate(dict.fromkeys(rob["group"]))})
    rob = rob.sort_values(["_group", "_floor", "_drop", "encoder"])
    for r in rob.to_dict("records"):
        out = {"group": r["group"], "encoder": r["encoder"], "queries": str(int(r["n"]))}
        out["seeds"] = str(int(r["seeds"]))  # training seeds averaged into this row
        out["clean MRR"] = fmt_ci(
            r.get("clean", np.nan), r.get("clean_low", np.nan), r.get("clean_high", np.nan)
        )
        out["clean MRR"] += marks.get((r["encoder"], r["group"], "clean MRR"), "")
        for noise, level in answer.conditions:
            if noises and noise not in noises:
                continue
            tag = f"{noise} {level:g}"
            cell = fmt_ci(r.get(tag, np.nan), r.get(f"{tag} low", np.nan), r.get(f"{tag} high", np.nan))
            out[f"drop {tag}"] = cell + marks.get((r["encoder"], r["group"], f"drop {tag}"), "")
        if "auc" in r:
            out["AUC"] = "n/a" if pd.isna(r["auc"]) else f"{r['auc']:.3f}"
        if "half level" in r:
            half = r["half level"]
            out["level at half"] = (
                "n/a" if pd.isna(half) else ("beyond grid" if np.isinf(half) else f"{half:.3f}")
            )
        if r.get("clean", 0) < FLOOR_MRR:
            out["clean MRR"] += " (floor)"
        rows.append(out)
    published = published_reference()
    for group, langs in (groups or {}).items():
        ref = [published[x] for x in langs if x in published]
        if ref:
            rows.append({"group": group, "encoder": PUBLISHED_NAME, "queries": None, "seeds": None,
                         "clean MRR": f"{np.mean(ref):.3f} (mean accuracy@1 of {len(ref)} languages)"})  # fmt: skip
    return pd.DataFrame(rows)


def reference_encoders(tests: pd.DataFrame, reference: str) -> dict[str, str]:
    """Group -> the model ``reference`` stands for there (the named model, or each group's most robust one
    for ``"best"``), from the tests' ``reference_encoder`` column."""
    part = tests[tests["reference"] == reference]
    return dict(zip(part["group"], part["reference_encoder"])) if "reference_encoder" in part else {}


def drill_link(
    answer,
    groups: dict[str, list[str]],
    mode: str,
    corpus: str | None,
    ref_of: dict[str, str],
    dataset: str | None = None,
) -> Callable[[str, str, str], str | None]:
    """``(encoder, group, quantity) -> link`` to the view a number of the Findings page comes from: the
    Degradation curves of that encoder (every training seed of its family) and of the group's reference in
    ``ref_of``, over the group's languages pooled, noise seed 0, at that noise type (relative to clean for
    drops, with the heatmap at that level); ``queries`` links to the Runs page's export of those rows.
    ``dataset`` (pass it when the database holds several, whose pages then show a dataset selector) selects
    the dataset there. Published rows and unknown groups have no link (None)."""
    noises = list(answer.noises) or [n for n, _ in answer.conditions if n != MEAN]
    first = noises[0] if noises else None
    rob = answer.robustness
    runs = {(r["encoder"], r["group"]): r["members"].split(", ") for r in rob.to_dict("records")
            if isinstance(r.get("members"), str) and r["members"]}  # fmt: skip

    def link(encoder: str, group: str, quantity: str) -> str | None:
        if group not in groups or encoder == PUBLISHED_NAME:
            return None
        langs = groups[group]
        reference = ref_of.get(group)
        mine = runs.get((encoder, group), [encoder])
        theirs = runs.get((reference, group), [reference]) if reference and reference != encoder else []
        if quantity == "queries":
            return url.link("runs", dataset=dataset, mode=mode, encoders=mine, langs=langs, noise=noises)
        drop = _drop_tag(quantity)
        noise, level = drop if drop else (first, None)
        return url.link("curves", dataset=dataset, mode=mode, corpus=corpus, noise=first if noise == MEAN else noise,
                        metric="MRR", encoders=[*mine, *theirs], langs=langs, seeds=[0],
                        facet="all languages pooled", scale="relative to clean" if drop else "absolute",
                        heat_level=level)  # fmt: skip

    return link


def _md_cell(text, href: str | None) -> str:
    """A Markdown table cell: escaped text, as a link when ``href`` is given."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    shown = ui.safe(str(text))
    return f"[{shown}]({href})" if href else shown


def linked_markdown(view: pd.DataFrame, link: Callable[[str, str, str], str | None]) -> str:
    """The robustness view as a Markdown table whose every number links to the view it comes from."""
    header = "| " + " | ".join(ui.safe(c) for c in view.columns) + " |"
    lines = [header, "|" + "---|" * len(view.columns)]
    for r in view.to_dict("records"):
        cells = []
        for col in view.columns:
            value = r[col]
            numeric = col not in ("group", "encoder") and value is not None and not (
                isinstance(value, float) and np.isnan(value))  # fmt: skip
            quantity = "clean MRR" if col in ("AUC", "level at half") else col
            cells.append(_md_cell(value, link(r["encoder"], r["group"], quantity) if numeric else None))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def story_figure(answer, groups: dict[str, list[str]], level: float | None = None) -> go.Figure:
    """Per resource group: clean MRR (with LaBSE's published accuracy@1 as a star) and the relative drop at
    ``level`` (default 0.2, else the highest level the answer has) per noise type, with 95% intervals, for the
    encoders above the floor."""
    levels = sorted({lv for _, lv in answer.conditions})
    if level is None:
        level = 0.2 if 0.2 in levels else (levels[-1] if levels else 0.2)
    rob = with_clean(answer.robustness)
    names = [g for g in groups if g in set(rob.group)]
    fig = make_subplots(rows=2, cols=max(1, len(names)), shared_yaxes="rows", vertical_spacing=0.24,
                        subplot_titles=[f"{group_label(g)}: clean MRR" for g in names]
                        + [f"{group_label(g)}: relative drop at level {level:g}" for g in names])  # fmt: skip
    published = published_reference()
    noises = sorted({n for n, lv in answer.conditions if lv == level}, key=list(NOISE_COLOURS).index)
    for col, group in enumerate(names, start=1):
        part = rob[(rob.group == group) & (rob["clean"] >= FLOOR_MRR)]
        encs = part["encoder"].tolist()
        fig.add_trace(go.Bar(
            x=encs, y=part["clean"], marker_color="#7f7f7f", name="clean MRR", showlegend=col == 1,
            error_y={"type": "data", "symmetric": False, "array": part["clean_high"] - part["clean"],
                     "arrayminus": part["clean"] - part["clean_low"]},
        ), row=1, col=col)  # fmt: skip
        ref = [published[x] for x in groups[group] if x in published]
        if ref and encs:
            fig.add_trace(go.Scatter(
                x=encs, y=[float(np.mean(ref))] * len(encs), mode="lines", line={"dash": "dot", "color": "black"},
                name=PUBLISHED_NAME + " (mean over the group)", showlegend=col == 1,
            ), row=1, col=col)  # fmt: skip
        for noise in noises:
            tag = f"{noise} {level:g}"
            fig.add_trace(go.Bar(
                x=encs, y=part[tag], name=f"drop: {'mean of the noise types' if noise == MEAN else noise}",
                marker_color=NOISE_COLOURS.get(noise, "#999999"), showlegend=col == 1,
                error_y={"type": "data", "symmetric": False, "array": part[f"{tag} high"] - part[tag],
                         "arrayminus": part[tag] - part[f"{tag} low"]},
            ), row=2, col=col)  # fmt: skip
    highs = [rob.loc[rob["clean"] >= FLOOR_MRR, f"{n} {level:g} high"].max() for n in noises]
    top = max([h for h in highs if pd.notna(h)] or [1.0])
    fig.update_yaxes(range=[0, 1], row=1)
    fig.update_yaxes(tickformat=".0%", range=[0, min(1.0, top * 1.1)], row=2)
    fig.update_xaxes(tickangle=-30)
    fig.update_layout(barmode="group", height=720, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.15})  # fmt: skip
    return fig


def with_clean(rob: pd.DataFrame) -> pd.DataFrame:
    """``rob`` (a robustness table) with its clean MRR columns, NaN where the answer has none (a group none of
    whose languages has a clean cell: charts and caveats then show it empty instead of failing)."""
    missing = [c for c in ("clean", "clean_low", "clean_high") if c not in rob]
    return rob.assign(**dict.fromkeys(missing, np.nan)) if missing else rob


def caveats(answer, groups: dict[str, list[str]]) -> list[str]:
    """The caveats that apply to this database (floors, small groups, languages a model never saw, languages
    of unknown resource class)."""
    out = []
    rob = with_clean(answer.robustness)
    for group in groups:
        part = rob[rob.group == group]
        floor = sorted(part.loc[part["clean"] < FLOOR_MRR, "encoder"])
        if floor:
            out.append(f"{group_label(group)}: {', '.join(floor)} sit at the floor (clean MRR < {FLOOR_MRR}); "
                       "their drops are shown but not tested: a flat curve at the floor is not robustness.")  # fmt: skip
        n = int(part["n"].max()) if len(part) else 0
        if n < 500:
            out.append(f"{group_label(group)}: {n} queries in all; intervals are wide.")
    if groups.get(UNKNOWN):
        out.append(f"{group_label(UNKNOWN)}: {', '.join(groups[UNKNOWN])} are not in `data/languages.csv`, so "
                   "their resource class is unknown; they form a group of their own.")  # fmt: skip
    seen = data.read("encoder_languages")
    unseen = seen[seen["seen_in_training"] == False]  # noqa: E712 - a nullable column: None is "unknown"
    langs = {lg for g in groups.values() for lg in g}
    pre = unseen[unseen["lang"].isin(langs) & unseen["encoder"].str.startswith("e5-small")]
    if not pre.empty:
        out.append(f"Not in XLM-R's pre-training languages (unseen by the e5 family): "
                   f"{', '.join(sorted(set(pre['lang'])))}.")  # fmt: skip
    scope = getattr(answer, "scope", None)
    if scope is None:
        out.append("Trained models (`simcse-*`, `typo-*`, `optical-*`, `labse-e5`) never saw any of these "
                   "languages in training (leak-free split; see each model's card).")  # fmt: skip
    else:
        out += [ui.safe(n) for n in scope_notes(scope)]
        trained = [m for m in scope.seen if m.startswith(TRAINED_PREFIXES)]
        if not trained:
            out.append("Trained models (`simcse-*`, `typo-*`, `optical-*`, `labse-e5`) never saw any of these "
                       "languages in training (leak-free split; see each model's card).")  # fmt: skip
    out += seed_caveats(rob)
    if LABSE in set(rob["encoder"]):
        out.append(f"`{LABSE}` is LaBSE itself, measured here like every other row. {PUBLISHED_NAME} is "
                   "MTEB's figure on clean queries, not measured here, and not the same metric as MRR.")  # fmt: skip
    else:
        out.append(f"LaBSE itself (`{LABSE}`) is not measured in this database: its only figure here is "
                   f"{PUBLISHED_NAME}, not the same metric as MRR.")  # fmt: skip
    return out


def seed_caveats(rob: pd.DataFrame) -> list[str]:
    """What the training seeds of the trained models (:data:`TRAINED_PREFIXES`) allow one to say: with one
    seed, intervals and tests cover the sampling of queries only (today's single-run caveat); with several,
    each row is the mean over its seeds and its intervals and tests include the spread between them."""
    trained = rob[rob["encoder"].str.startswith(TRAINED_PREFIXES) & (rob["seeds"] > 0)]
    counts = trained.groupby("encoder", sort=False)["seeds"].max()
    out = []
    one = counts[counts == 1].index.tolist()
    if one:
        out.append(f"{seeds_text(1)}: {', '.join(one)}. Their intervals and tests cover the sampling of "
                   "queries only, not the spread between training runs.")  # fmt: skip
    several = counts[counts > 1]
    if not several.empty:
        named = ", ".join(f"{enc} ({seeds_text(int(k))})" for enc, k in several.items())
        out.append(f"Several training seeds: {named}. `NAME-s1`, `NAME-s2`, ... are training seeds of "
                   "`NAME`: each row is the mean over its seeds, with intervals and tests from a hierarchical "
                   "bootstrap (seeds, then queries) that include the spread between training runs.")  # fmt: skip
    return out


SEEN_STYLE = {  # how a language's training status for the chosen model is drawn: label, symbol, colour
    True: ("seen in training", "circle", "#1f77b4"),
    False: ("not seen in training", "diamond", "#d62728"),
    None: ("training languages unknown", "square", "#7f7f7f"),
}
UNKNOWN_CLASS = "unknown"
PANEL_KEYS = ("findings_lang_encoder", "findings_lang_level", "findings_lang_noise")


def seen_label(status) -> str:
    """``"seen"``, ``"unseen"`` or ``"unknown"`` for a training status True / False / None."""
    return "unknown" if status is None or pd.isna(status) else ("seen" if status else "unseen")


def seen_table(scope: Scope, groups: dict[str, list[str]]) -> pd.DataFrame:
    """One row per evaluated language: name, code, script, resource class, where it is in the answer (its
    group, or why not), and per compared model whether it trained on it (seen / unseen / unknown)."""
    from core.research import language_meta

    meta = language_meta(scope.languages)
    group_of = {lang: group_label(g) for g, langs in groups.items() for lang in langs}
    rows = []
    for lang in scope.languages:
        script, klass = meta.get(lang, ("", None))
        if lang in group_of:
            where = group_of[lang]
        elif scope.restricted and lang not in scope.unseen:
            where = "left out: a compared model trained on it"
        else:
            where = "in no group (class 3 or unclassified)"
        row = {"language": ui.lang_name(lang), "code": lang, "script": script or "?",
               "resource class": UNKNOWN_CLASS if klass is None else resource_class_label(klass),
               "in the answer": where}  # fmt: skip
        row.update({m: seen_label(scope.status(m, lang)) for m in scope.models})
        rows.append(row)
    return pd.DataFrame(rows)


def _jitter(keys: list) -> np.ndarray:
    """Offsets in [-0.3, 0.3] (narrower for a category of few points) spreading the points of each category
    side by side, in input order (deterministic: the same page draws the same picture)."""
    out, seen, counts = np.zeros(len(keys)), {}, {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    for i, k in enumerate(keys):
        j = seen.get(k, 0)
        seen[k] = j + 1
        half = min(0.3, 0.05 * (counts[k] - 1))  # a few points stay close to their category's tick
        out[i] = 0.0 if counts[k] == 1 else -half + 2 * half * j / (counts[k] - 1)
    return out


def language_figure(part: pd.DataFrame, title: str = "") -> go.Figure:
    """Every language's relative drop (rows of one encoder and condition of a
    :class:`core.research.Breakdown`'s ``drops``) against its resource class (left) and its script (right),
    one point per language with its 95% bootstrap whiskers; the symbol says whether the encoder trained on the
    language, an open symbol that its clean MRR is below the floor (not counted in the correlation)."""
    import html

    # In code order, so a point's place within its category says nothing about its drop.
    d = part.sort_values("lang").reset_index(drop=True)
    klass = [UNKNOWN_CLASS if pd.isna(k) else int(k) for k in d["resource_class"]]
    class_order = sorted({k for k in klass if k != UNKNOWN_CLASS}) + (
        [UNKNOWN_CLASS] if UNKNOWN_CLASS in klass else []
    )
    class_x = np.array([class_order.index(k) for k in klass], dtype=float) + _jitter(klass)
    scripts = [s or "?" for s in d["script"]]
    script_order = sorted(set(scripts), key=lambda s: (-scripts.count(s), s))
    script_x = np.array([script_order.index(s) for s in scripts], dtype=float) + _jitter(scripts)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        column_widths=[0.4, 0.6], subplot_titles=["by resource class", "by script"])  # fmt: skip
    hover = [
        f"{html.escape(ui.lang_name(r.lang))}<br>relative drop {r.drop:.1%} [{r.low:.1%}, {r.high:.1%}]"
        f"<br>clean MRR {r.clean:.2f} · {r.n} queries<br>{SEEN_STYLE[_status(r.seen)][0]}"
        + (" · below the floor" if r.floor else "")
        for r in d.itertuples(index=False)
    ]
    status = [_status(v) for v in d["seen"]]
    for st_key, (label, symbol, colour) in SEEN_STYLE.items():
        for floor in (False, True):
            m = np.array([s is st_key for s in status]) & (d["floor"].to_numpy(dtype=bool) == floor)
            if not m.any():
                continue
            name = label + (f" (clean MRR < {FLOOR_MRR:g})" if floor else "")
            err = {"type": "data", "symmetric": False, "array": (d["high"] - d["drop"])[m],
                   "arrayminus": (d["drop"] - d["low"])[m], "thickness": 1, "width": 0, "color": colour}  # fmt: skip
            marker = {"symbol": symbol + ("-open" if floor else ""), "color": colour, "size": 7}
            for col, x in ((1, class_x), (2, script_x)):
                fig.add_trace(go.Scatter(
                    x=x[m], y=d["drop"][m], mode="markers", marker=marker, error_y=err, name=name,
                    legendgroup=name, showlegend=col == 1, hovertext=[hover[i] for i in np.flatnonzero(m)],
                    hoverinfo="text",
                ), row=1, col=col)  # fmt: skip
    # Each category's median drop, over the languages above the floor, as a black bar.
    above = ~d["floor"].to_numpy(dtype=bool) & d["drop"].notna().to_numpy()
    for col, keys, order in ((1, klass, class_order), (2, scripts, script_order)):
        meds = [(i, float(np.median(d["drop"][above & (np.array(keys, dtype=object) == k)])))
                for i, k in enumerate(order) if (above & (np.array(keys, dtype=object) == k)).any()]  # fmt: skip
        if meds:
            fig.add_trace(go.Scatter(
                x=[i for i, _ in meds], y=[m for _, m in meds], mode="markers", name="median (above the floor)",
                marker={"symbol": "line-ew-open", "size": 26, "color": "black", "line": {"width": 2}},
                legendgroup="median", showlegend=col == 1, hovertemplate="median %{y:.1%}<extra></extra>",
            ), row=1, col=col)  # fmt: skip
    fig.update_xaxes(tickvals=list(range(len(class_order))), row=1, col=1,
                     ticktext=[UNKNOWN_CLASS if k == UNKNOWN_CLASS else resource_class_label(k) for k in class_order])  # fmt: skip
    fig.update_xaxes(tickvals=list(range(len(script_order))), ticktext=script_order, row=1, col=2)
    fig.update_xaxes(tickangle=-35, zeroline=False, automargin=True)
    fig.update_yaxes(tickformat=".0%", title_text="relative drop", automargin=True, row=1, col=1)
    fig.update_layout(height=520, title=title or None, margin={"l": 70, "r": 10, "t": 60 if title else 40, "b": 10},
                      legend={"orientation": "h", "y": -0.25})  # fmt: skip
    return fig


def _status(value) -> bool | None:
    return None if value is None or pd.isna(value) else bool(value)


def correlation_sentence(breakdown: Breakdown, encoder: str, noise: str, level: float) -> str:
    """The rank correlation of resource class and relative drop for one encoder and condition, with its
    interval, the languages it is over and those it leaves out, as one sentence."""
    c = breakdown.correlations
    row = c[(c["encoder"] == encoder) & (c["noise"] == noise) & np.isclose(c["level"], level)]
    what = "the mean of the noise types" if noise == MEAN else noise
    if row.empty:
        return f"No correlation for {encoder} at {what}, level {level:g}."
    r = row.iloc[0]
    left = [f"{int(r['floor'])} below the floor (clean MRR < {FLOOR_MRR:g})" if r["floor"] else "",
            f"{int(r['unclassified'])} of unknown resource class" if r["unclassified"] else ""]  # fmt: skip
    left_text = f"; left out: {', '.join(x for x in left if x)}" if any(left) else ""
    if pd.isna(r["rho"]):
        value = f"undefined over {int(r['n'])} language{'s' if r['n'] != 1 else ''} (it needs two classes)"
    else:
        ci = "no interval" if pd.isna(r["low"]) else f"95% CI [{_signed(r['low'])}, {_signed(r['high'])}]"
        value = f"**{_signed(r['rho'])}** ({ci}) over {int(r['n'])} languages"
    return (f"**{ui.safe(encoder)}**, {what} at level {level:g}: Spearman's ρ between resource class (0 to 5) and "
            f"relative drop is {value}{left_text}. A negative ρ: lower-resource languages lose more.")  # fmt: skip


def _signed(x: float) -> str:
    """``+0.31`` / ``−0.31`` (U+2212)."""
    return f"{x:+.2f}".replace("-", "−")


def extremes_table(breakdown: Breakdown, noise: str, level: float, k: int = 5) -> pd.DataFrame:
    """Per model, the ``k`` languages that break most and least at (noise, level)
    (:func:`core.research.breaking_languages`), one row per (model, end), a language per column."""
    ext = breaking_languages(breakdown, noise, level, k=k)
    rows = []
    for (enc, end), part in ext.groupby(["encoder", "end"], sort=False):
        row = {"model": enc, "breaks": end}
        for r in part.itertuples(index=False):
            row[str(r.position)] = f"{r.lang} {r.drop:.0%} [{r.low:.0%}, {r.high:.0%}] ({seen_label(r.seen)})"
        rows.append(row)
    return pd.DataFrame(rows)


def language_panel(breakdown: Breakdown, dataset: str) -> None:
    """The multi-way panel: every language's relative drop against resource class and script for the chosen
    encoder and condition, the rank correlation of class and drop, and each model's extremes."""
    d = breakdown.drops
    if d.empty:
        st.info("No language has both clean and noisy cells yet.")
        return
    st.subheader("Every language: relative drop against resource class and script")
    default = default_condition(breakdown)
    encs = sorted(d["encoder"].unique())
    c1, c2, c3 = st.columns(3)
    with c1:
        enc = url.selectbox("Encoder", encs, key="findings_lang_encoder")
    mine = d[d["encoder"] == enc]
    with c2:
        levels = sorted(float(x) for x in mine["level"].unique())
        level = url.selectbox(
            "Noise level", levels, key="findings_lang_level", default=default[1] if default else None
        )
    at = mine[np.isclose(mine["level"], level)]
    noises = sorted(at["noise"].unique(), key=lambda n: (n != MEAN, n))
    with c3:
        noise = url.selectbox("Noise", noises, key="findings_lang_noise", format_func=lambda n: (
            "mean of the noise types" if n == MEAN else n))  # fmt: skip
    part = at[at["noise"] == noise]
    st.markdown(correlation_sentence(breakdown, enc, noise, level))
    fig = language_figure(part)
    st.plotly_chart(fig, width="stretch", key="findings_languages_chart")
    ui.chart_downloads(fig, f"languages-{dataset}-{enc}", "findings_languages_dl", height=520)
    st.caption(f"{dataset_title(dataset)}: one point per language ({len(part)}), relative drop = 1 − MRR(noisy) "
               "/ MRR(clean) over its queries, whiskers: 95% percentile bootstrap over its queries (1000 "
               "resamples, seed 0). ρ: Spearman rank correlation over the languages above the floor with a known "
               "class; its interval resamples languages and, within each, queries (two-level bootstrap, seed 0). "
               "Symbols: whether this model trained on the language (other sentences).")  # fmt: skip
    st.markdown(f"**Languages that break most and least** (relative drop, {'mean of the noise types' if noise == MEAN else noise} "
                f"at level {level:g}; languages above the floor):")  # fmt: skip
    ext = extremes_table(breakdown, noise, level)
    st.dataframe(ext, hide_index=True, width="stretch", key="findings_extremes")
    shown = part[
        ["lang", "script", "resource_class", "seen", "n", "clean", "drop", "low", "high", "floor"]
    ].copy()
    shown["seen"] = shown["seen"].map(seen_label)
    ui.table_downloads(shown, f"languages-{dataset}-{enc}-{noise}-{level:g}", "findings_languages_table_dl",
                       caption=f"Relative drop per language, {enc}, {noise} at level {level:g}.")  # fmt: skip


def page_sentences(answer, link: Callable[[str, str, str], str | None] | None = None) -> dict[str, str]:
    """The page's generated sentences, per resource group: first how the SimCSE models' drops compare with
    LaBSE's objective and LaBSE (:func:`core.research.comparison_headlines`), then which encoder breaks least
    and most (:func:`core.research.headlines`, numbers linked by ``link``)."""
    compared, least = comparison_headlines(answer), headlines(answer, link=link)
    out = {}
    for group in dict.fromkeys([*least, *compared]):
        if group in compared:
            out[f"{group} vs LaBSE"] = compared[group]
        if group in least:
            out[group] = least[group]
    return out


NAMED_MAX = 12  # languages named in the page's caption per group; the rest are counted (184 on FLORES-200)


def _named(langs: list[str]) -> str:
    """A group's languages for the caption: every name up to :data:`NAMED_MAX`, then how many more."""
    names = [ui.lang_name(x) for x in langs[:NAMED_MAX]]
    more = f" and {len(langs) - NAMED_MAX} more (see *Languages* below)" if len(langs) > NAMED_MAX else ""
    return ui.safe(", ".join(names)) + more


def findings_report(sentences: dict[str, str], chart: go.Figure, table: pd.DataFrame, notes: list[str],
                    selection: str) -> str:  # fmt: skip
    """The page as one self-contained HTML file (plotly.js once, offline): the sentences, the chart, the full
    robustness table and the caveats."""
    plain = [s.replace("**", "") for s in sentences.values()]
    sections = [("What breaks least", pd.DataFrame({"finding": plain}), ""),
                ("Clean MRR and relative drop", chart, ""),
                ("Robustness table", table, "Relative drop = 1 - MRR(noisy) / MRR(clean); 95% bootstrap CIs."),
                ("Caveats", pd.DataFrame({"caveat": [n.replace("`", "") for n in notes]}), "")]  # fmt: skip
    return build_report(
        "CLIR Noise Lab: findings", sections, {"selection": selection, "database": str(data.db_path())}
    )


@ui.one_line_errors
def main() -> None:
    """Draw the page."""
    st.title(TITLE)
    st.markdown("**How much more or less do the SimCSE models lose than LaBSE when queries contain typos, "
                "and which encoder breaks least, where?** Generated from the database's per-query ranks; "
                "nothing on this page is written by hand.")  # fmt: skip
    if not ui.guard():
        return
    cond = data.read("conditions")
    c1, c2, c3 = st.columns([1, 1, 2])
    with c1:
        dataset, mode = ui.dataset_mode("findings", cond)
    sel = cond[(cond["dataset"] == dataset) & (cond["mode"] == mode)]
    with c2:
        corpus = ui.corpus_select("findings", sel)
    if notice := data.query_set_notice(dataset=dataset, mode=mode, corpus=corpus):
        st.warning(ui.safe(notice))  # the answer below leaves these cells out (core.store.queries)
    answer, groups = data.research(dataset, mode, corpus)
    if answer.robustness.empty:
        st.info("No clean cells for this selection yet.")
        return
    refs = [r for r in DASHBOARD_REFERENCES if r in set(answer.tests.reference)]
    best_of = ", ".join(f"{g}: {e}" for g, e in reference_encoders(answer.tests, BEST).items())
    with c3:
        reference = url.selectbox(
            "Significance against", refs or ["(no reference model above the floor)"], key="findings_reference",
            format_func=lambda r: f"the most robust encoder of each group ({best_of})" if r == BEST else r,
            help="Paired tests over the same queries (randomization tests; a hierarchical bootstrap test "
                 "where a side has several training seeds), Holm-corrected over every comparison against "
                 "this reference. ▲: significantly higher than the reference, ▼: lower.",
        )  # fmt: skip
    reference = reference if reference in refs else None
    st.caption(f"{ui.safe(dataset_title(dataset))} · {ui.safe(mode)} mode · noise seed 0 · " + " · ".join(
        f"{group_label(g)}: {_named(langs)}" for g, langs in groups.items() if langs))  # fmt: skip
    ref_of = reference_encoders(answer.tests, reference) if reference else {}
    several = cond["dataset"].nunique() > 1  # then the linked pages show a dataset selector: say which
    link = drill_link(answer, groups, mode, corpus, ref_of, dataset=dataset if several else None)
    sentences = page_sentences(answer, link)
    for sentence in sentences.values():
        st.markdown(sentence)
    if answer.scope is not None and answer.scope.multiway:
        st.caption(" ".join(ui.safe(n) for n in scope_notes(answer.scope)))
    chart = story_figure(answer, groups)
    st.plotly_chart(chart, width="stretch", key="findings_chart")
    ui.chart_downloads(chart, f"findings-{mode}", "findings_chart_dl", height=720)
    st.subheader("Robustness table")
    view = robustness_view(answer, reference, groups, noises=(MEAN,))
    st.markdown(linked_markdown(view, link))
    about = [
        f"`{enc}`: {text}" for enc, text in COMPARATORS.items() if enc in set(answer.robustness["encoder"])
    ]
    if (view["encoder"] == PUBLISHED_NAME).any():
        about.append(f"{PUBLISHED_NAME}: mean over the group's languages, not measured here")
    if about:
        st.caption(" · ".join(about))
    full = robustness_view(answer, reference, groups)
    with st.expander("Per noise type"):
        st.markdown(linked_markdown(full, link))
    marks = (
        f"; ▲/▼: significantly higher/lower than {reference} (Holm-adjusted p < 0.05)" if reference else ""
    )
    ui.table_downloads(full, f"robustness-{mode}", "findings_table_dl",
                       caption=f"Clean MRR and relative drop under noise, 95% bootstrap CIs{marks}.")  # fmt: skip
    st.download_button(
        "HTML report (opens offline)", key="findings_report", on_click="ignore", icon=":material/download:",
        data=lambda: findings_report(sentences, chart, full, caveats(answer, groups),
                                     f"{dataset_title(dataset)} · {mode}"),
        file_name=f"clir-findings-{dataset}-{mode}.html", mime="text/html",
    )  # fmt: skip
    st.caption("Relative drop = 1 − MRR(noisy) / MRR(clean) over the same queries; 95% percentile bootstrap over "
               "queries (1000 resamples, seed 0); 'mean' = each query's reciprocal rank averaged over the noise "
               "types. A resource group pools its languages' queries. ▲/▼: significantly higher/lower than the "
               "reference (Holm-adjusted p < 0.05); on a drop, ▲ means the encoder loses more. Every number links "
               "to the curves it comes from (mean drops to the first noise type's).")  # fmt: skip
    st.caption("Training seeds: `NAME-sK` is seed K of `NAME`; a row of several seeds is the mean over them "
               "(each seed's MRR or drop), with a hierarchical bootstrap interval (each resample draws the "
               "seeds with replacement, then the queries, the same queries for every seed). Its paired tests "
               "draw the queries once for both sides and each side's seeds separately; p is twice the smaller "
               "share of resampled differences beyond 0. A row of 1 training seed gets the query bootstrap and "
               "randomization tests alone: they say nothing of the spread between training runs.")  # fmt: skip
    if answer.breakdown is not None:
        language_panel(answer.breakdown, dataset)
    else:  # a dataset that is not multi-way: the panel's choices wait in the URL for the next one that is
        url.keep(*PANEL_KEYS)
    if answer.scope is not None:
        with ui.lazy_expander("Languages: which model trained on which", "findings_seen_open") as open_:
            if open_:
                st.dataframe(seen_table(answer.scope, groups), hide_index=True, width="stretch",
                             key="findings_seen_table")  # fmt: skip
                st.caption("seen: the model trained on this language (with other sentences); unseen: it did not; "
                           "unknown: its training languages are not recorded (a hub model). From the database's "
                           "`encoder_languages`, for the model version whose cells are shown.")  # fmt: skip
    with st.expander("Every paired test (Holm-adjusted p)"):
        tests = answer.tests.copy()
        st.dataframe(tests.round(4), hide_index=True, width="stretch", key="findings_tests")
    st.subheader("Caveats")
    for line in caveats(answer, groups):
        st.markdown(f"- {line}")
