"""Runs: what the database holds (coverage of the latest grid), each run's config and package versions,
the background job's progress, and exports (CSV, Parquet, self-contained HTML report)."""

from __future__ import annotations

import io
import json

import altair as alt
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.conditions import CLEAN_NOISE
from core.encoders.asymmetric import side_names
from core.jobs import run_is_dead, status_path
from core.pipeline.grid import CELL_COLUMNS, Grid
from dashboard import components as ui
from dashboard import data
from dashboard import url_state as url
from dashboard.analysis import robustness_table
from dashboard.export import table_csv
from dashboard.report import build_report
from dashboard.views.curves import language_axis

TITLE = "Runs"
EXPORT_MAX_ROWS = 500_000  # per-query rows an export builds in the page (CSV and Parquet in memory)


def expected_cells(grid: dict) -> pd.DataFrame:
    """Every cell (corpus folded in) of a run's stored grid, as :meth:`core.pipeline.Grid.cells` defines."""
    return pd.DataFrame(Grid.from_dict(grid).cells(), columns=list(CELL_COLUMNS))


def coverage_against(grid: dict, stored: pd.DataFrame) -> pd.DataFrame:
    """The grid's cells with a ``stored`` flag (a grid cell is stored when ``stored`` has a row with the same
    values in every :data:`core.pipeline.grid.CELL_COLUMNS` column)."""
    exp = expected_cells(grid)
    if exp.empty:
        return exp.assign(stored=pd.Series(dtype=bool))
    cols = list(CELL_COLUMNS)
    if stored.empty:
        return exp.assign(stored=False)
    # One hash join instead of a Python tuple per cell: a full study's grid has ~100k cells (1.5 s -> ms).
    have = stored[cols].drop_duplicates().astype(exp.dtypes.to_dict()).assign(_stored=True)
    out = exp.merge(have, on=cols, how="left", sort=False)
    return exp.assign(stored=out["_stored"].notna().to_numpy())


def coverage_figure(cov: pd.DataFrame) -> go.Figure:
    """Heatmap encoder x language of the share of the grid's cells that are stored."""
    share = cov.groupby(["encoder", "lang"])["stored"].mean().unstack("lang")
    counts = cov.groupby(["encoder", "lang"])["stored"].agg(["sum", "count"])
    done = counts["sum"].unstack("lang").reindex(index=share.index, columns=share.columns)
    total = counts["count"].unstack("lang").reindex(index=share.index, columns=share.columns)
    text = [[f"{int(d)}/{int(t)}" if t == t else "" for d, t in zip(dr, tr)]
            for dr, tr in zip(done.to_numpy(), total.to_numpy())]  # fmt: skip
    fig = go.Figure(go.Heatmap(
        z=share.to_numpy(), x=[ui.lang_name(c) for c in share.columns], y=list(share.index), zmin=0, zmax=1,
        colorscale=[[0, "#f4c7c3"], [0.999, "#fce8b2"], [1, "#b7e1cd"]], text=text, texttemplate="%{text}",
        colorbar={"title": "stored"}, hovertemplate="%{y} / %{x}: %{text} cells stored<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(height=140 + 45 * len(share), margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def coverage_chart(cov: pd.DataFrame) -> alt.LayerChart:
    """:func:`coverage_figure` as a Vega-Lite chart (what the page draws): the same cells, shares, colours
    and "stored/total" labels. Why: plotly.js (4.7 MB) loaded for this one chart delayed the page's tables by
    seconds on a fresh session; Vega-Lite's bundle is smaller."""
    counts = cov.groupby(["encoder", "lang"], as_index=False)["stored"].agg(["sum", "count", "mean"])
    counts["language"] = counts["lang"].map(ui.lang_name)
    counts["cells"] = counts["sum"].astype(int).astype(str) + "/" + counts["count"].astype(str)
    order = [ui.lang_name(c) for c in sorted(counts["lang"].unique())]
    few = counts["lang"].nunique() <= 30  # a full study's ~100 columns: labels only where they fit
    base = alt.Chart(counts[["encoder", "language", "mean", "cells"]]).encode(
        x=alt.X("language:N", sort=order, title=None, axis=language_axis(few)),
        y=alt.Y("encoder:N", sort="ascending", title=None, axis=alt.Axis(labelLimit=400)),
        tooltip=[alt.Tooltip("encoder:N"), alt.Tooltip("language:N"), alt.Tooltip("cells:N", title="stored")],
    )
    rect = base.mark_rect().encode(
        color=alt.Color("mean:Q", title="stored", scale=alt.Scale(domain=[0, 0.999, 1],
                                                                  range=["#f4c7c3", "#fce8b2", "#b7e1cd"]))
    )  # fmt: skip
    # Labels only where they fit: with a full study's ~100 language columns they overlap (the tooltip keeps them).
    layers = [rect, base.mark_text(fontSize=11).encode(text="cells:N")] if few else [rect]
    return alt.layer(*layers).properties(height={"step": 32})


def encoder_table(encoders: pd.DataFrame) -> pd.DataFrame:
    """The stored encoders with which model encodes the queries and which the documents."""
    specs = [json.loads(s) if s else None for s in encoders["spec_json"]]
    sides = [side_names(n, s) for n, s in zip(encoders["encoder"], specs)]
    out = encoders.drop(columns=["spec_json"])
    out.insert(1, "queries encoded by", [q for q, _ in sides])
    out.insert(2, "documents encoded by", [d for _, d in sides])
    return out


# The status shown for a run still marked 'running' whose process is surely gone: the dashboard reads the
# database read-only and cannot mark it; the next run on the same machine does (core.pipeline.run).
INTERRUPTED_DEAD = "interrupted (process gone)"


def with_dead_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` (:func:`core.store.queries.runs`) with the status of every run still marked 'running' whose
    process is surely gone (:func:`core.jobs.run_is_dead`: this machine, its PID gone or reused) shown as
    :data:`INTERRUPTED_DEAD`. Runs of other machines, and runs from before schema v7 (no PID), keep theirs."""
    if runs.empty or "pid" not in runs:
        return runs
    dead = [status == "running" and run_is_dead(host, pid, start)
            for status, host, pid, start in zip(runs["status"], runs["host"], runs["pid"], runs["pid_start"])]  # fmt: skip
    return runs.assign(status=runs["status"].mask(pd.Series(dead, index=runs.index), INTERRUPTED_DEAD))


def env_line(env: dict, latest: pd.Series | None) -> dict:
    """The page's "where from" line: the dashboard's ``env`` (:func:`dashboard.data.env_summary`) with the
    embedding cache of the latest run (stored with it, schema v7) in place of the dashboard's own, which
    only Live search uses and is named as such."""
    out = dict(env)
    own = out.pop("embedding cache", None)
    ran = latest.get("cache_dir") if latest is not None else None
    if isinstance(ran, str) and ran:
        out["embedding cache of the latest run"] = f"{ran} (on {latest.get('host') or '?'})"
    else:
        out["embedding cache of the latest run"] = "not recorded (a run from before schema v7)"
    if own is not None:
        out["Live search's embedding cache"] = own
    return out


def _background() -> None:
    job = data.background_status()
    if job is None:
        st.caption(f"No background job has reported for this database (`{status_path(data.db_path())}`).")
        return
    if "error" in job:
        st.warning(f"Background job status unreadable: {ui.safe(job['error'])}")
        return
    done, total = job.get("done") or 0, job.get("total") or 0
    frac = min(1.0, max(0.0, float(done) / float(total))) if total else 0.0
    # The status file is written by another process (its text names models and data): escaped like any text.
    st.progress(frac, text=f"Background job: {ui.safe(job.get('stage', '?'))} · {done}/{total} · "
                f"{ui.safe(job.get('message', ''))} (updated {ui.safe(job.get('updated_at', '?'))})")  # fmt: skip


def _export(cond: pd.DataFrame) -> None:
    st.subheader("Export")
    prev = st.session_state.get("curves_selection", {})
    dataset, mode = ui.dataset_mode("runs", cond)
    sel = cond[(cond["dataset"] == dataset) & (cond["mode"] == mode)]
    encs, langs = sorted(sel["encoder"].unique()), sorted(sel["lang"].unique())
    noises = sorted(n for n in sel["noise"].unique() if n != CLEAN_NOISE)
    c1, c2, c3 = st.columns(3)
    with c1:
        pick_enc = url.multiselect("Encoders", encs, key="runs_encoders",
                                   default=[e for e in prev.get("encoders", encs) if e in encs] or encs)  # fmt: skip
    with c2:
        pick_lang = url.multiselect("Languages", langs, key="runs_langs", format_func=ui.lang_name,
                                    default=[x for x in prev.get("langs", langs) if x in langs] or langs)  # fmt: skip
    with c3:
        pick_noise = url.multiselect("Noise types (clean rows always included)", noises, key="runs_noise",
                                     default=[prev["noise"]] if prev.get("noise") in noises else noises[:1])  # fmt: skip
    size = int(data.read("selection_size", dataset=dataset, mode=mode, encoders=pick_enc, langs=pick_lang,
                         noise=[CLEAN_NOISE, *pick_noise])["rows"].iloc[0])  # fmt: skip
    if size > EXPORT_MAX_ROWS:
        # Counted from the cells table: a full study's selection can be tens of millions of rows, which
        # would take minutes to read and gigabytes to serve; the user narrows it instead.
        st.warning(f"The selection holds {size:,} per-query rows, more than the {EXPORT_MAX_ROWS:,} an export "
                   "builds here: choose fewer encoders, languages or noise types, or use "
                   "`python -m precompute export` for the full table.")  # fmt: skip
        return
    st.markdown(f"Current selection: **{size:,}** per-query rows "
                f"({len(pick_enc)} encoders × {len(pick_lang)} languages × {len(pick_noise)} noise types + clean).")  # fmt: skip
    if not size:
        st.info("The selection is empty.")
        return
    b1, b2, b3 = st.columns(3)
    # Built on request, not on every page load: reading and serialising a selection of 100k+ rows takes
    # seconds, which every rerun of the page would otherwise pay.
    selection = (data.stamp(), dataset, mode, tuple(pick_enc), tuple(pick_lang), tuple(pick_noise))
    if b1.button("Prepare CSV and Parquet", key="runs_prepare"):
        with st.spinner(f"Reading {size:,} rows…"):
            rows = data.read("selection_rows", dataset=dataset, mode=mode, encoders=pick_enc, langs=pick_lang,
                             noise=[CLEAN_NOISE, *pick_noise])  # fmt: skip
            buf = io.BytesIO()
            rows.to_parquet(buf, index=False)
            st.session_state["runs_export"] = (
                selection,
                table_csv(rows),  # the product's one CSV writer: no cell can run as a spreadsheet formula
                buf.getvalue(),
            )
    export = st.session_state.get("runs_export")
    if export and export[0] == selection:
        b1.download_button("Download CSV", export[1], file_name="clir_selection.csv", mime="text/csv",
                           key="runs_csv")  # fmt: skip
        b2.download_button("Download Parquet", export[2], file_name="clir_selection.parquet",
                           mime="application/octet-stream", key="runs_parquet")  # fmt: skip
    if b3.button("Build HTML report", key="runs_build_report", disabled=not pick_noise):
        st.session_state["runs_report"] = _report(dataset, mode, pick_enc, pick_lang, pick_noise, cond)
    if st.session_state.get("runs_report"):
        b3.download_button("Download HTML report", st.session_state["runs_report"].encode("utf-8"),
                           file_name="clir_report.html", mime="text/html", key="runs_html")  # fmt: skip


def _report(dataset, mode, encoders, langs, noises, cond) -> str:
    from dashboard.views.curves import figure

    all_enc = sorted(cond["encoder"].unique())
    labels = {lang: ui.lang_name(lang) for lang in langs}
    sections = []
    for noise in noises:
        seeds = sorted(cond.loc[cond["noise"] == noise, "seed"].unique().tolist())
        _, curve = data.curve(dataset, mode, noise, encoders, langs, seeds, "mrr", None)
        if curve.empty:
            continue
        fig = figure(curve, relative=False, metric_label="MRR", all_encoders=all_enc, facet_labels=labels)
        sections.append((f"MRR under {noise} noise ({mode} mode)", fig,
                         "Bands: 95% bootstrap intervals over queries."))  # fmt: skip
        table = robustness_table(curve, "MRR")
        table["facet"] = table["facet"].map(lambda f: labels.get(f, f))
        sections.append((f"Robustness summary: {noise}", table,
                         "AUC: mean MRR over the level range; half-level: level where MRR halves."))  # fmt: skip
    sections.append(("Languages", ui.language_table(langs), ui.CAVEATS.replace("**", "").replace("*", "")))
    meta = {"database": str(data.db_path()), "dataset / mode": f"{dataset} / {mode}",
            "encoders": ", ".join(encoders), "languages": ", ".join(langs)}  # fmt: skip
    return build_report("CLIR Noise Lab report", sections, meta)


@st.cache_resource(show_spinner=False, max_entries=4)
def _coverage(stamp: tuple, run_id: str, grid_json: str) -> tuple[pd.DataFrame, alt.LayerChart]:
    """The latest grid's coverage and its heatmap, once per database state (shared by every session: a full
    study's ~100k cells took ~2 s a page load to compare and draw). Read-only for callers."""
    cov = coverage_against(json.loads(grid_json or "{}"), data.read("coverage"))
    return cov, coverage_chart(cov)


@ui.one_line_errors
def main() -> None:
    """Draw the page."""
    st.title(TITLE)
    _background()
    if not ui.guard():
        return
    runs = with_dead_runs(data.read("runs"))
    cond = data.read("conditions")
    stored = data.read("coverage")
    if notice := data.query_set_notice():
        st.warning(ui.safe(notice))  # coverage, stored cells and exports below leave these cells out
    st.subheader("Grid coverage")
    latest = runs.iloc[0] if not runs.empty else None
    grid = {}
    if latest is not None:
        try:
            grid = json.loads(latest["grid_json"] or "{}")
        except ValueError:
            grid = {}
    if grid:
        cov, chart = _coverage(data.stamp(), latest["run_id"], latest["grid_json"])
        missing = cov[~cov["stored"]]
        st.markdown(f"Latest run `{latest['run_id']}` ({latest['status']}): **{int(cov['stored'].sum())}** of "
                    f"{len(cov)} cells of its grid are stored (pair and pooled corpora folded together); "
                    f"**{len(missing)}** missing.")  # fmt: skip
        st.altair_chart(chart, width="stretch", key="runs_coverage")
        if len(missing):
            with ui.lazy_expander(f"Missing cells ({len(missing)})", "runs_missing_open") as open_:
                if open_:
                    st.dataframe(missing.drop(columns="stored"), hide_index=True, width="stretch")
                st.caption("Run `make precompute` (it computes only what is missing). An encoder that cannot "
                           "load here is skipped and listed in the run's output.")  # fmt: skip
    else:
        st.info("The latest run recorded no grid; showing what is stored.")
    with ui.lazy_expander(f"Stored cells by condition ({len(stored):,})", "runs_stored_open") as open_:
        if open_:
            st.dataframe(stored, hide_index=True, width="stretch")

    st.subheader("Runs")
    cols = ("run_id", "started_at", "finished_at", "status", "cells_stored", "host", "pid", "cache_dir",
            "argv")  # fmt: skip
    show = runs[[c for c in cols if c in runs]]
    st.dataframe(show, hide_index=True, width="stretch", key="runs_table")
    if (runs["status"] == INTERRUPTED_DEAD).any():
        st.caption(f"{INTERRUPTED_DEAD}: the run's process is gone (killed, or its machine lost) without marking "
                   "its row; the next run on this machine marks it interrupted. Its stored cells are kept, and "
                   "running the same grid again computes only the missing ones.")  # fmt: skip
    for _, run in runs.head(10).iterrows():
        with st.expander(f"Run {run['run_id']}: config and package versions"):
            left, right = st.columns(2)
            left.code(run["grid_toml"] or run["grid_json"] or "(none)", language="toml")
            try:
                versions = json.loads(run["versions_json"] or "{}")
            except ValueError:
                versions = {}
            right.dataframe(pd.DataFrame(list(versions.items()), columns=["package", "version"]),
                            hide_index=True, width="stretch")  # fmt: skip
    st.subheader("Encoders")
    st.dataframe(
        encoder_table(data.read("encoders")), hide_index=True, width="stretch", key="runs_encoders_table"
    )
    st.caption("An asymmetric encoder (e.g. optical-e5, distilled with optimal transport) encodes queries with its "
               "trained student and documents with its frozen teacher.")  # fmt: skip
    st.caption(" · ".join(f"{k}: `{v}`" for k, v in env_line(data.env_summary(), latest).items()))
    _export(cond)
