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
      randomization tests, Holm-corrected over every comparison against the same reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.metrics import (
    holm,
    mean_ci,
    paired_difference,
    per_query,
    relative_drop_ci,
    relative_drop_difference,
    stars,
)

NOISES = ("substitute", "keyboard", "delete")
LEVELS = (0.1, 0.2)
REFERENCES = ("e5-small", "simcse-bitext-e5")
KEY = ["corpus", "lang", "qid"]
CLEAN = "none"


@dataclass(frozen=True)
class Answer:
    """``robustness``: one row per (encoder, group) with clean MRR and each condition's relative drop, each
    with its interval. ``tests``: one row per (reference, encoder, group, quantity) with the paired
    difference, its interval, raw and Holm-adjusted p and a significance mark."""

    robustness: pd.DataFrame
    tests: pd.DataFrame
    conditions: list[tuple[str, float]]


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
    seed: int = 0,
) -> Answer:
    """Robustness table and Holm-corrected paired tests from per-query rank rows.

    Args:
        rows: columns corpus, encoder, lang, noise, level, qid, rank (one mode and seed; see
            ``core.store.queries.rank_rows``); clean rows have noise ``"none"``.
        groups: group name -> languages (e.g. ``{"low": [...], "high": [...]}``).
        encoders: which encoders, in display order (default: all in ``rows``).
        references: models every other model is tested against (those absent from ``rows`` are skipped).
        n_perm: permutations per test; the smallest attainable p is ``1 / (n_perm + 1)``, so with Holm over
            ``m`` tests a difference can only be called significant when ``m / (n_perm + 1) < 0.05``.

    Guarantees: deterministic for a seed; a condition an encoder lacks gives NaN, never an error; the
    Holm family of a reference is every (encoder, group, quantity) test against it.
    """
    encoders = list(encoders) if encoders is not None else sorted(rows.encoder.unique())
    conditions = [(n, float(lv)) for n in noises for lv in levels]
    rr = _by_condition(rows)
    robustness, tests = [], []
    for group, langs in groups.items():
        in_group = {enc: {k: v[v.index.get_level_values("lang").isin(list(langs))] for k, v in rr.items()
                          if k[0] == enc} for enc in encoders}  # fmt: skip

        def series(enc: str, noise: str, level: float, in_group=in_group) -> pd.Series | None:
            return in_group.get(enc, {}).get((enc, noise, round(level, 6)))

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
            robustness.append(row)
        for ref in references:
            ref_clean = series(ref, CLEAN, 0.0)
            if ref_clean is None:
                continue
            for enc in encoders:
                if enc == ref or series(enc, CLEAN, 0.0) is None:
                    continue
                a, b = series(enc, CLEAN, 0.0).align(ref_clean, join="inner")
                d = paired_difference(a.to_numpy(), b.to_numpy(), n_boot=n_boot, n_perm=n_perm, seed=seed)
                tests.append(_test_row(ref, enc, group, "clean MRR", d))
                for noise, level in conditions:
                    parts = [series(enc, CLEAN, 0.0), series(enc, noise, level), ref_clean,
                             series(ref, noise, level)]  # fmt: skip
                    if any(p is None for p in parts):
                        continue
                    joined = pd.concat(parts, axis=1, join="inner").to_numpy().T
                    d = relative_drop_difference(*joined, n_boot=n_boot, n_perm=n_perm, seed=seed)
                    tests.append(_test_row(ref, enc, group, f"drop {noise} {level:g}", d))
    tests_df = pd.DataFrame(tests, columns=["reference", "encoder", "group", "quantity", "delta", "low",
                                            "high", "p", "n"])  # fmt: skip
    tests_df["p_holm"] = np.nan
    for _, idx in tests_df.groupby("reference").groups.items():
        tests_df.loc[idx, "p_holm"] = holm(tests_df.loc[idx, "p"].to_numpy())
    tests_df["significant"] = tests_df["p_holm"] < 0.05
    tests_df["mark"] = tests_df["p_holm"].map(stars)
    return Answer(pd.DataFrame(robustness), tests_df, conditions)


def _test_row(ref: str, enc: str, group: str, quantity: str, d) -> dict:
    return {"reference": ref, "encoder": enc, "group": group, "quantity": quantity, "delta": d.delta,
            "low": d.low, "high": d.high, "p": d.p, "n": d.n}  # fmt: skip


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
    """The robustness table as Markdown: clean MRR and relative drops with CIs, with significance marks
    against the first reference appended where ``marks`` ((encoder, group, quantity) -> mark) has them."""
    marks = marks or {}
    tags = [f"{n} {lv:g}" for n, lv in answer.conditions]
    lines = ["| encoder | group | clean MRR | " + " | ".join(f"drop {t}" for t in tags) + " |",
             "|---|---|---|" + "---|" * len(tags)]  # fmt: skip
    for r in answer.robustness.to_dict("records"):
        cells = []
        clean = fmt_ci(r.get("clean", np.nan), r.get("clean_low", np.nan), r.get("clean_high", np.nan))
        clean += marks.get((r["encoder"], r["group"], "clean MRR"), "")
        for t in tags:
            cell = fmt_ci(r.get(t, np.nan), r.get(f"{t} low", np.nan), r.get(f"{t} high", np.nan))
            cells.append(cell + marks.get((r["encoder"], r["group"], f"drop {t}"), ""))
        lines.append(f"| {r['encoder']} | {r['group']} | {clean} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def significance_marks(tests: pd.DataFrame, reference: str) -> dict[tuple[str, str, str], str]:
    """(encoder, group, quantity) -> `` ▲``/`` ▼`` (Holm-significant: higher / lower than ``reference``) or ''."""
    out = {}
    for t in tests[tests.reference == reference].itertuples(index=False):
        if t.significant:
            out[(t.encoder, t.group, t.quantity)] = " ▲" if t.delta > 0 else " ▼"
    return out
