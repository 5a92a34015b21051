"""The research answer, computed from stored per-query ranks: how much of its clean MRR each model loses under
each noise, per resource group, and whether it loses significantly more or less than a reference model.

One function serves the README (``benchmarks/readme_results.py``) and the dashboard's *Research answer*
page, so both always show the same numbers for the same database.

Conventions (all stated in the outputs' captions):
    * pair mode, seed 0; a resource group pools the queries of its languages (each query counts once);
    * relative drop = ``1 - MRR(noisy) / MRR(clean)`` over the same queries, with a 95% percentile bootstrap
      over queries that keeps each query's clean and noisy values together (:func:`relative_drop_ci`);
    * a model is compared with a reference on the queries both have: clean MRR by the mean per-query
      difference (:func:`paired_difference`), drops by :func:`relative_drop_difference`; two-sided paired
      randomization tests, Holm-corrected over every comparison against the same reference;
    * the reference :data:`BEST` is, per group, the encoder above the floor that loses least (mean over the
      noise types) at the highest level of the table: "is anyone significantly worse than the most robust";
    * ``auc`` and ``half level`` summarise each (encoder, group)'s whole "mean" curve (clean = level 0, then
      every level every noise type has) as point estimates: no interval.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.conditions import CLEAN_NOISE as CLEAN
from core.metrics import (
    auc,
    holm,
    level_at_half,
    mean_ci,
    paired_difference,
    per_query,
    relative_drop_ci,
    relative_drop_difference,
    stars,
)

NOISES = ("substitute", "keyboard", "delete")
# Below this clean MRR an encoder cannot read the language (MiniLM on Ethiopic: 0.04): a drop from a floor is
# not robustness, so such (encoder, group) pairs are shown but not tested.
FLOOR_MRR = 0.3
LEVELS = (0.1, 0.2)
REFERENCES = ("e5-small", "simcse-bitext-e5")
# Not a model: per group, the most robust encoder above the floor (see research_answer). The README keeps the
# two named references; the dashboard also offers this one.
BEST = "best"
DASHBOARD_REFERENCES = (BEST, *REFERENCES)
KEY = ["corpus", "lang", "qid"]
MEAN = "mean"  # the pseudo-noise whose per-query value is the mean over the noise types


@dataclass(frozen=True)
class Answer:
    """``robustness``: one row per (encoder, group) with clean MRR and each condition's relative drop, each
    with its interval. ``tests``: one row per (reference, encoder, group, quantity) with the paired
    difference, its interval, raw and Holm-adjusted p and a significance mark."""

    robustness: pd.DataFrame
    tests: pd.DataFrame
    conditions: list[tuple[str, float]]
    noises: tuple[str, ...] = ()  # the noise types the "mean" condition averages over


def _reciprocal(rows: pd.DataFrame) -> pd.Series:
    return pd.Series(per_query(rows["rank"].to_numpy(), "mrr"), index=pd.MultiIndex.from_frame(rows[KEY]))


def _by_condition(rows: pd.DataFrame) -> dict[tuple[str, str, float], pd.Series]:
    """(encoder, noise, level) -> per-query reciprocal rank indexed by (corpus, lang, qid)."""
    out = {}
    for (enc, noise, level), part in rows.groupby(["encoder", "noise", "level"], sort=False):
        out[(enc, noise, round(float(level), 6))] = _reciprocal(part)
    return out


def research_answer(
    rows: pd.DataFrame,
    groups: Mapping[str, Sequence[str]],
    *,
    encoders: Sequence[str] | None = None,
    references: Sequence[str] = REFERENCES,
    noises: Sequence[str] = NOISES,
    levels: Sequence[float] = LEVELS,
    n_boot: int = 1000,
    n_perm: int = 10_000,
    floor: float = FLOOR_MRR,
    seed: int = 0,
) -> Answer:
    """Robustness table and Holm-corrected paired tests from per-query rank rows.

    Args:
        rows: columns corpus, encoder, lang, noise, level, qid, rank (one mode and seed; see
            ``core.store.queries.rank_rows``); clean rows have noise ``"none"``.
        groups: group name -> languages (e.g. ``{"low": [...], "high": [...]}``).
        encoders: which encoders, in display order (default: all in ``rows``).
        references: models every other model is tested against (those absent from ``rows`` are skipped).
            :data:`BEST` stands, in each group, for the encoder above ``floor`` with the lowest "mean"
            relative drop at the highest of ``levels`` the rows hold (ties: the first name in sort order);
            a group where no encoder qualifies has no tests against it.
        floor: encoders whose clean MRR in a group is below it are not tested there (nor used as reference).
        n_perm: permutations per test; the smallest attainable p is ``1 / (n_perm + 1)``, so with Holm over
            ``m`` tests a difference can only be called significant when ``m / (n_perm + 1) < 0.05``.

    Returns:
        An :class:`Answer`. Its robustness table also has ``auc`` (:func:`core.metrics.auc`, the normalised
        area under MRR against level) and ``half level`` (:func:`core.metrics.level_at_half`; ``inf`` when
        MRR never falls to half its clean value on the grid) of the "mean" curve: clean MRR at level 0, then
        the "mean" MRR at every level > 0 that the rows hold for every noise type, all over the queries
        that have every one of those conditions. Both are point estimates (no interval); NaN when the
        encoder lacks a condition of that curve or the rows hold no noisy level.

    Guarantees: deterministic for a seed; a condition an encoder lacks gives NaN, never an error; the
    Holm family of a reference is every (encoder, group, quantity) test against it (for :data:`BEST`:
    every test against the best encoder of any group); ``tests.reference_encoder`` names the model each
    test compared against.

    Example:
        >>> rows = pd.DataFrame({"corpus": "c", "encoder": "a", "lang": "xx", "qid": [0, 1, 0, 1],
        ...                      "noise": ["none", "none", "delete", "delete"], "level": [0, 0, .2, .2],
        ...                      "rank": [1, 1, 1, 4]})
        >>> r = research_answer(rows, {"low": ["xx"]}, n_boot=10).robustness.iloc[0]
        >>> float(r["mean 0.2"]), float(r["auc"]), float(r["half level"])  # MRR 1 -> 0.625
        (0.375, 0.8125, inf)
    """
    encoders = list(encoders) if encoders is not None else sorted(rows.encoder.unique())
    # Only the conditions the database has: a grid without keyboard noise gets no empty keyboard columns.
    have = {
        (n, round(float(lv), 6))
        for n, lv in rows[["noise", "level"]].drop_duplicates().itertuples(index=False)
    }
    noises = [n for n in noises if any(h[0] == n for h in have)]
    levels = [lv for lv in levels if any(h[1] == round(float(lv), 6) for h in have)]
    # The curve behind auc / half level: every level > 0 that each noise type has (a level only one noise
    # type reaches would make "mean" a different average there).
    curve = sorted(
        lv for lv in {h[1] for h in have if h[1] > 0} if noises and all((n, lv) in have for n in noises)
    )
    conditions = [(n, float(lv)) for n in noises for lv in levels]
    rr = _by_condition(rows)
    # "mean" at a level: each query's reciprocal rank averaged over the noise types, so its relative drop is
    # exactly the mean of the per-noise drops, with a CI that resamples queries (not query-noise pairs).
    for enc in encoders:
        for level in sorted({round(float(lv), 6) for lv in levels} | set(curve)):
            parts = [rr.get((enc, n, level)) for n in noises]
            if parts and all(p is not None for p in parts):
                rr[(enc, MEAN, level)] = pd.concat(parts, axis=1, join="inner").mean(axis=1)
    conditions += [(MEAN, float(lv)) for lv in levels]
    top = f"{MEAN} {max(levels):g}" if levels else None  # the column BEST is chosen by
    robustness, tests = [], []
    for group, langs in groups.items():
        in_group = {enc: {k: v[v.index.get_level_values("lang").isin(list(langs))] for k, v in rr.items()
                          if k[0] == enc} for enc in encoders}  # fmt: skip

        def series(enc: str, noise: str, level: float, in_group=in_group) -> pd.Series | None:
            return in_group.get(enc, {}).get((enc, noise, round(level, 6)))

        first = len(robustness)
        for enc in encoders:
            clean = series(enc, CLEAN, 0.0)
            row = {"encoder": enc, "group": group, "n": 0 if clean is None else len(clean)}
            if clean is not None and len(clean):
                e = mean_ci(clean.to_numpy(), n_boot=n_boot, seed=seed)
                row.update(clean=e.value, clean_low=e.low, clean_high=e.high)
            for noise, level in conditions:
                noisy = series(enc, noise, level)
                tag = f"{noise} {level:g}"
                if clean is None or noisy is None:
                    row.update({tag: np.nan, f"{tag} low": np.nan, f"{tag} high": np.nan})
                    continue
                c, x = clean.align(noisy, join="inner")
                # relative_drop_ci takes ranks; reciprocal ranks map back exactly (rank = 1 / rr).
                e = relative_drop_ci(1 / c.to_numpy(), 1 / x.to_numpy(), n_boot=n_boot, seed=seed)
                row.update({tag: e.value, f"{tag} low": e.low, f"{tag} high": e.high})
            row["auc"], row["half level"] = _curve_summary(
                [clean, *(series(enc, MEAN, lv) for lv in curve)], curve
            )
            robustness.append(row)
        here = robustness[first:]
        above = {r["encoder"] for r in here if r.get("clean", 0) >= floor}
        ranked = sorted((r[top], r["encoder"]) for r in here
                        if top and r["encoder"] in above and not np.isnan(r[top]))  # fmt: skip
        for ref in references:
            ref_enc = (ranked[0][1] if ranked else None) if ref == BEST else ref
            ref_clean = series(ref_enc, CLEAN, 0.0) if ref_enc else None
            if ref_clean is None or ref_enc not in above:
                continue
            for enc in encoders:
                if enc == ref_enc or enc not in above:
                    continue
                a, b = series(enc, CLEAN, 0.0).align(ref_clean, join="inner")
                d = paired_difference(a.to_numpy(), b.to_numpy(), n_boot=n_boot, n_perm=n_perm, seed=seed)
                tests.append(_test_row(ref, ref_enc, enc, group, "clean MRR", d))
                for noise, level in conditions:
                    parts = [series(enc, CLEAN, 0.0), series(enc, noise, level), ref_clean,
                             series(ref_enc, noise, level)]  # fmt: skip
                    if any(p is None for p in parts):
                        continue
                    joined = pd.concat(parts, axis=1, join="inner").to_numpy().T
                    d = relative_drop_difference(*joined, n_boot=n_boot, n_perm=n_perm, seed=seed)
                    tests.append(_test_row(ref, ref_enc, enc, group, f"drop {noise} {level:g}", d))
    tests_df = pd.DataFrame(tests, columns=["reference", "reference_encoder", "encoder", "group", "quantity",
                                            "delta", "low", "high", "p", "n"])  # fmt: skip
    tests_df["p_holm"] = np.nan
    for _, idx in tests_df.groupby("reference").groups.items():
        tests_df.loc[idx, "p_holm"] = holm(tests_df.loc[idx, "p"].to_numpy())
    tests_df["significant"] = tests_df["p_holm"] < 0.05
    tests_df["mark"] = tests_df["p_holm"].map(stars)
    return Answer(pd.DataFrame(robustness), tests_df, conditions, tuple(noises))


def _curve_summary(parts: list[pd.Series | None], curve: list[float]) -> tuple[float, float]:
    """(auc, half level) of clean MRR then "mean" MRR at ``curve``, over the queries every point has."""
    if not curve or any(p is None for p in parts):
        return np.nan, np.nan
    joined = pd.concat(parts, axis=1, join="inner")
    if joined.empty:
        return np.nan, np.nan
    lv, mrr = [0.0, *curve], joined.mean(axis=0).to_numpy()
    return auc(lv, mrr), level_at_half(lv, mrr)


def resource_groups(langs: Sequence[str]) -> dict[str, list[str]]:
    """``{"low": [...], "high": [...]}``: Joshi class 0-2 and 4-5 (``data/languages.csv``); class 3 and
    unclassified languages are in neither group.

    Example:
        >>> resource_groups(["deu", "amh", "swh"])
        {'low': ['amh', 'swh'], 'high': ['deu']}
    """
    from core.languages import load_languages

    meta = load_languages()
    classes = {code: meta[code].resource_class if code in meta else None for code in langs}
    return {
        "low": sorted(c for c, k in classes.items() if k is not None and k <= 2),
        "high": sorted(c for c, k in classes.items() if k is not None and k >= 4),
    }


def _test_row(ref: str, ref_enc: str, enc: str, group: str, quantity: str, d) -> dict:
    return {"reference": ref, "reference_encoder": ref_enc, "encoder": enc, "group": group,
            "quantity": quantity, "delta": d.delta, "low": d.low, "high": d.high, "p": d.p, "n": d.n}  # fmt: skip


def fmt_ci(value: float, low: float, high: float, digits: int = 3) -> str:
    """``0.812 [0.790, 0.833]``, or ``n/a`` for NaN.

    Example:
        >>> fmt_ci(0.5, 0.4, 0.6), fmt_ci(float("nan"), 0, 0)
        ('0.500 [0.400, 0.600]', 'n/a')
    """
    if value is None or np.isnan(value):
        return "n/a"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def robustness_markdown(answer: Answer, marks: Mapping[tuple[str, str, str], str] | None = None) -> str:
    """The robustness table as Markdown: clean MRR and relative drops with CIs, each followed by its mark in
    ``marks`` ((encoder, group, quantity) -> mark, e.g. from :func:`significance_marks`)."""
    marks = marks or {}
    tags = [f"{n} {lv:g}" for n, lv in answer.conditions]
    lines = [
        "| encoder | group | clean MRR | " + " | ".join(tags) + " |",
        "|---|---|---|" + "---|" * len(tags),
    ]
    for r in answer.robustness.to_dict("records"):
        key = (r["encoder"], r["group"])
        clean = fmt_ci(r.get("clean", np.nan), r.get("clean_low", np.nan), r.get("clean_high", np.nan))
        cells = [clean + marks.get((*key, "clean MRR"), "")]
        for t in tags:
            cell = fmt_ci(r.get(t, np.nan), r.get(f"{t} low", np.nan), r.get(f"{t} high", np.nan))
            cells.append(cell + marks.get((*key, f"drop {t}"), ""))
        lines.append(f"| {r['encoder']} | {r['group']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def significance_marks(
    tests: pd.DataFrame, reference: str, up: str = " ▲", down: str = " ▼"
) -> dict[tuple[str, str, str], str]:
    """(encoder, group, quantity) -> ``up`` / ``down`` where the Holm-adjusted test against ``reference`` is
    significant and the encoder's value is higher / lower than the reference's; absent otherwise."""
    sig = tests[(tests.reference == reference) & tests.significant]
    return {
        (t.encoder, t.group, t.quantity): up if t.delta > 0 else down for t in sig.itertuples(index=False)
    }


def headlines(
    answer: Answer,
    level: float | None = None,
    floor: float = FLOOR_MRR,
    link: Callable[[str, str, str], str | None] | None = None,
) -> dict[str, str]:
    """Group -> one sentence naming the most and the least robust encoder at ``level`` (mean over the noise
    types, with its 95% CI), among encoders whose clean MRR in the group reaches ``floor``; encoders below it
    are named as floors. Generated from the numbers, never written by hand.

    ``level`` defaults to 0.2 when the answer has it, else the highest level it has. ``link`` ((encoder,
    group, quantity) -> URL, quantity ``"clean MRR"`` or ``"drop mean 0.2"``) makes each number a Markdown
    link to where it comes from.
    """

    def linked(text: str, enc: str, group: str, quantity: str) -> str:
        href = link(enc, group, quantity) if link else None
        return f"[{text.replace('[', chr(92) + '[').replace(']', chr(92) + ']')}]({href})" if href else text

    levels = sorted(lv for n, lv in answer.conditions if n == MEAN)
    if level is None:
        level = 0.2 if 0.2 in levels else (levels[-1] if levels else None)
    tag = f"{MEAN} {level:g}" if level is not None else None
    out = {}
    for group, part in answer.robustness.groupby("group", sort=False):
        name = f"{group.capitalize()}-resource"
        above = part[part["clean"] >= floor] if "clean" in part else part.iloc[:0]
        floors = sorted(set(part["encoder"]) - set(above["encoder"]))
        floor_note = (
            f" At the floor (clean MRR < {floor:g}, not compared): {', '.join(floors)}." if floors else ""
        )
        if above.empty:
            out[group] = (
                f"{name}: no encoder reaches a clean MRR of {floor:g}; nothing to compare.{floor_note}"
            )
            continue
        ok = above[above[tag].notna()].sort_values(tag) if tag in above else above.iloc[:0]
        if ok.empty:
            out[group] = f"{name}: no noisy cells of every noise type yet; nothing to compare.{floor_note}"
            continue
        best, worst = ok.iloc[0], ok.iloc[-1]

        def say(r, group=group) -> str:
            clean = linked(f"{r['clean']:.2f}", r["encoder"], group, "clean MRR")
            loss = linked(f"{r[tag]:.0%} [{r[f'{tag} low']:.0%}, {r[f'{tag} high']:.0%}]", r["encoder"], group,
                          f"drop {tag}")  # fmt: skip
            return f"**{r['encoder']}** (clean MRR {clean}, loses {loss})"

        text = f"{name}, noise level {level:g} (mean of {', '.join(answer.noises) or 'the noise types'}): "
        text += f"{say(best)} breaks least; {say(worst)} breaks most." if len(ok) > 1 else (
            f"only {say(best)} is above the floor.")  # fmt: skip
        out[group] = text + floor_note
    return out
