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
      every level every noise type has) as point estimates: no interval;
    * training seeds: ``NAME-s<k>`` (k >= 1) is training seed k of ``NAME`` (:func:`training_seed`). A model
      and its seeds present in the rows form one *family* and one row: every value is the mean over seeds of
      each seed's value; intervals and tests come from a hierarchical bootstrap (seeds, then queries; see
      :mod:`core.metrics.hierarchical`). A family of one seed gets exactly the one-model numbers above;
    * datasets: an answer is of one stored dataset (its :class:`Scope`; sentences open with its name, "On
      FLORES-200, ..."). On multi-way parallel data (:func:`is_multiway`: FLORES-200, NTREX-128, the same
      English sentences in every language) most languages are training languages of some compared model, with
      other sentences: there the groups, the table and the tests cover the languages no compared model trained
      on (``encoder_languages``), or all languages, said so, when none remain; and every language's drop, its
      rank correlation with the resource class and the languages that break most and least are in the answer's
      :class:`Breakdown` (:func:`language_breakdown`, :func:`breaking_languages`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.conditions import CLEAN_NOISE as CLEAN
from core.datasets import is_multiway
from core.metrics import (
    auc,
    hierarchical_drop_ci,
    hierarchical_drop_difference,
    hierarchical_mean_ci,
    hierarchical_mean_difference,
    holm,
    level_at_half,
    mean_ci,
    paired_difference,
    per_query,
    relative_drop_ci,
    relative_drop_difference,
    spearman_ci,
    stars,
)
from core.metrics.correlation import _drop_replicates, query_draws

NOISES = ("substitute", "keyboard", "delete")
# Below this clean MRR an encoder cannot read the language (MiniLM on Ethiopic: 0.04): a drop from a floor is
# not robustness, so such (encoder, group) pairs are shown but not tested.
FLOOR_MRR = 0.3
LEVELS = (0.1, 0.2)
# The question the answer serves: how much more or less do the SimCSE models lose under noise than LaBSE?
# "labse-e5" is LaBSE's objective (translation ranking, additive margin softmax) trained on the same base and
# pairs as the SimCSE models (core/training/defaults.py); "labse" is the real LaBSE, measured where a
# database has it.
SIMCSE = ("simcse-unsup-e5", "simcse-bitext-e5", "simcse-noisy-e5")
LABSE_OBJECTIVE = "labse-e5"
LABSE = "labse"
COMPARATORS = {LABSE_OBJECTIVE: "LaBSE's objective on the same base", LABSE: "LaBSE itself, measured here"}
# Name prefixes of the models trained here (the objective -> name patterns of core/training/defaults.py, which
# imports the trainer, so this module does not): training seeds are a caveat of theirs, not of a hub model's.
TRAINED_PREFIXES = ("simcse-", "typo-", "optical-", "labse-")
# LaBSE's published clean accuracy@1 (core.languages.published_reference): a label, not a model name.
PUBLISHED_LABSE = "LaBSE (published, clean accuracy@1, MTEB)"
REFERENCES = ("e5-small", "simcse-bitext-e5", LABSE_OBJECTIVE, LABSE)
# Not a model: per group, the most robust encoder above the floor (see research_answer). The README tests
# against the named references (and marks the first two); the dashboard also offers this one.
BEST = "best"
DASHBOARD_REFERENCES = (BEST, *REFERENCES)
KEY = ["corpus", "lang", "qid"]
MEAN = "mean"  # the pseudo-noise whose per-query value is the mean over the noise types
UNKNOWN = "unknown"  # the resource group of languages without metadata (see resource_groups)


# Training seed k >= 1 of model NAME is NAME-s{k} (core.training.defaults.seed_model_name); no leading zeros.
_SEED_NAME = re.compile(r"(?P<family>.+)-s(?P<seed>[1-9][0-9]*)")


def training_seed(name: str) -> tuple[str, int]:
    """(family, training seed) of a model name: ``X-s<k>`` (k >= 1, no leading zeros) is seed k of ``X``;
    any other name is seed 0 of itself. The inverse of ``core.training.defaults.seed_model_name``.

    Example:
        >>> training_seed("labse-e5-s2"), training_seed("labse-e5"), training_seed("x-s01")
        (('labse-e5', 2), ('labse-e5', 0), ('x-s01', 0))
    """
    m = _SEED_NAME.fullmatch(name)
    return (m["family"], int(m["seed"])) if m else (name, 0)


def training_families(encoders: Iterable[str]) -> dict[str, list[str]]:
    """Family name -> its members among ``encoders``, by training seed; families in order of first
    appearance. A family is named after its seed-0 model even when only other seeds are present.

    Example:
        >>> training_families(["a-s2", "b", "a", "c-s1"])
        {'a': ['a', 'a-s2'], 'b': ['b'], 'c': ['c-s1']}
    """
    out: dict[str, list[tuple[int, str]]] = {}
    for name in dict.fromkeys(encoders):
        family, k = training_seed(name)
        out.setdefault(family, []).append((k, name))
    return {family: [name for _, name in sorted(members)] for family, members in out.items()}


def seeds_text(n: int) -> str:
    """``"1 training seed"``, ``"3 training seeds"``: how pages and the README say a family's seed count."""
    return f"{n} training seed" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class Answer:
    """``robustness``: one row per (model family, group) with clean MRR and each condition's relative drop,
    each with its interval, ``seeds`` (training seeds averaged) and ``members`` (their names, comma
    separated). ``tests``: one row per (reference, encoder, group, quantity) with the paired difference, its
    interval, raw and Holm-adjusted p, a significance mark and both sides' ``seeds`` / ``reference_seeds``.
    ``scope``: which dataset and languages the answer is over (:class:`Scope`; None when not given: then the
    sentences name no dataset). ``breakdown``: every language's drop and the rank correlation of drop and
    resource class (:class:`Breakdown`), on multi-way parallel data only."""

    robustness: pd.DataFrame
    tests: pd.DataFrame
    conditions: list[tuple[str, float]]
    noises: tuple[str, ...] = ()  # the noise types the "mean" condition averages over
    scope: Scope | None = None
    breakdown: Breakdown | None = None


def _reciprocal(rows: pd.DataFrame) -> pd.Series:
    return pd.Series(per_query(rows["rank"].to_numpy(), "mrr"), index=pd.MultiIndex.from_frame(rows[KEY]))


def _by_condition(rows: pd.DataFrame) -> dict[tuple[str, str, float], pd.Series]:
    """(encoder, noise, level) -> per-query reciprocal rank indexed by (corpus, lang, qid)."""
    out = {}
    for (enc, noise, level), part in rows.groupby(["encoder", "noise", "level"], sort=False):
        out[(enc, noise, round(float(level), 6))] = _reciprocal(part)
    return out


@functools.lru_cache(maxsize=1)
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # found once: building one scans every loaded library


def _one_blas_thread(fn):
    """Run ``fn`` with one BLAS thread. Its matrix products (bootstrap counts times per-query values, swap
    matrices times differences) are small; on a busy 2-core machine a second OpenBLAS thread waiting on a
    preempted sibling made a 3-seed study's answer 5x slower (268 vs 46 s measured here), and one thread
    gives the same numbers."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _blas().limit(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper


@_one_blas_thread
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
        encoders: which models, in display order (default: all in ``rows``). A name stands for its whole
            training-seed family (:func:`training_families` of the rows' encoders): ``"x"`` and ``"x-s1"``
            both select ``x`` with every ``x-s<k>`` the rows hold.
        references: models every other model is tested against (those absent from ``rows`` are skipped).
            :data:`BEST` stands, in each group, for the family above ``floor`` with the lowest "mean"
            relative drop at the highest of ``levels`` the rows hold (ties: the first name in sort order);
            a group where no family qualifies has no tests against it.
        floor: families whose clean MRR in a group is below it are not tested there (nor used as reference).
        n_perm: per test between two one-seed models, sign-flip / swap permutations (smallest p
            ``1 / (n_perm + 1)``); per test involving a family of several seeds, hierarchical bootstrap
            replicates behind its p (smallest p ``2 / (n_perm + 1)``). With Holm over ``m`` tests a
            difference can only be called significant when ``m`` times the smallest p is below 0.05.
        seed: the seed of every bootstrap and permutation draw (not a training seed).

    Returns:
        An :class:`Answer`, one robustness row per (family, group). A family's members in a group are those
        with clean rows there (``seeds`` counts them); its values are over the queries every member has, a
        condition that a member lacks is NaN, and each value is the mean over members of the member's value:
        clean MRR (:func:`core.metrics.hierarchical_mean_ci`), relative drops
        (:func:`core.metrics.hierarchical_drop_ci`), and tests against a reference family by
        :func:`core.metrics.hierarchical_mean_difference` / :func:`core.metrics.hierarchical_drop_difference`
        (query draws shared by both families, each family's seeds drawn separately). Between two one-seed
        families everything is exactly the one-model computation (:func:`core.metrics.mean_ci`,
        :func:`core.metrics.relative_drop_ci`, :func:`core.metrics.paired_difference`,
        :func:`core.metrics.relative_drop_difference`). The robustness table also has ``auc``
        (:func:`core.metrics.auc`, the normalised area under MRR against level) and ``half level``
        (:func:`core.metrics.level_at_half`; ``inf`` when MRR never falls to half its clean value on the
        grid) of the "mean" curve: clean MRR at level 0, then the "mean" MRR at every level > 0 that the rows
        hold for every noise type, averaged over the members, all over the queries that have every one of
        those conditions. Both are point estimates (no interval); NaN when a member lacks a condition of that
        curve or the rows hold no noisy level.

    Guarantees: deterministic for a seed; a condition a family lacks gives NaN, never an error; the
    Holm family of a reference is every (encoder, group, quantity) test against it (for :data:`BEST`:
    every test against the best family of any group); ``tests.reference_encoder`` names the family each
    test compared against.

    Example:
        >>> rows = pd.DataFrame({"corpus": "c", "encoder": "a", "lang": "xx", "qid": [0, 1, 0, 1],
        ...                      "noise": ["none", "none", "delete", "delete"], "level": [0, 0, .2, .2],
        ...                      "rank": [1, 1, 1, 4]})
        >>> r = research_answer(rows, {"low": ["xx"]}, n_boot=10).robustness.iloc[0]
        >>> float(r["mean 0.2"]), float(r["auc"]), float(r["half level"]), int(r["seeds"])  # MRR 1 -> 0.625
        (0.375, 0.8125, inf, 1)
    """
    present = sorted(rows.encoder.unique())
    every = training_families(present)
    families: dict[str, list[str]] = {}
    for name in list(encoders) if encoders is not None else present:
        family = training_seed(name)[0]
        families.setdefault(family, every.get(family, [family]))
    members = [m for ms in families.values() for m in ms]
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
    for enc in members:
        for level in sorted({round(float(lv), 6) for lv in levels} | set(curve)):
            parts = [rr.get((enc, n, level)) for n in noises]
            if parts and all(p is not None for p in parts):
                rr[(enc, MEAN, level)] = pd.concat(parts, axis=1, join="inner").mean(axis=1)
    conditions += [(MEAN, float(lv)) for lv in levels]
    top = f"{MEAN} {max(levels):g}" if levels else None  # the column BEST is chosen by
    robustness, tests = [], []
    for group, langs in groups.items():
        in_group = {enc: {k: v[v.index.get_level_values("lang").isin(list(langs))] for k, v in rr.items()
                          if k[0] == enc} for enc in members}  # fmt: skip

        def series(enc: str, noise: str, level: float, in_group=in_group) -> pd.Series | None:
            return in_group.get(enc, {}).get((enc, noise, round(level, 6)))

        def each(ms: list[str], noise: str, level: float, series=series) -> list[pd.Series] | None:
            """Every member's series of a condition, or None when a member lacks it."""
            parts = [series(m, noise, level) for m in ms]
            return None if any(p is None for p in parts) else parts

        def has_clean(m: str, series=series) -> bool:
            s = series(m, CLEAN, 0.0)
            return s is not None and len(s) > 0

        # A family's members here: those with clean rows in the group (so a seed still being computed for
        # another group does not blank this one).
        seeds_of = {f: [m for m in ms if has_clean(m)] or ms[:1] for f, ms in families.items()}
        table = _Tables(series, [m for ms in seeds_of.values() if len(ms) > 1 for m in ms])
        first = len(robustness)
        for fam, ms in seeds_of.items():
            clean = series(ms[0], CLEAN, 0.0)
            row = {"encoder": fam, "group": group, "n": 0 if clean is None else len(clean),
                   "seeds": len(ms) if has_clean(ms[0]) else 0}  # fmt: skip
            if len(ms) > 1:
                e = hierarchical_mean_ci(table(ms, CLEAN, 0.0), n_boot=n_boot, seed=seed)
                row["n"] = e.n
                row.update(clean=e.value, clean_low=e.low, clean_high=e.high)
            elif clean is not None and len(clean):
                e = mean_ci(clean.to_numpy(), n_boot=n_boot, seed=seed)
                row.update(clean=e.value, clean_low=e.low, clean_high=e.high)
            for noise, level in conditions:
                tag = f"{noise} {level:g}"
                if clean is None or each(ms, noise, level) is None:
                    row.update({tag: np.nan, f"{tag} low": np.nan, f"{tag} high": np.nan})
                    continue
                if len(ms) > 1:
                    e = hierarchical_drop_ci(table(ms, CLEAN, 0.0), table(ms, noise, level), n_boot=n_boot,
                                             seed=seed)  # fmt: skip
                else:
                    c, x = clean.align(series(ms[0], noise, level), join="inner")
                    # relative_drop_ci takes ranks; reciprocal ranks map back exactly (rank = 1 / rr).
                    e = relative_drop_ci(1 / c.to_numpy(), 1 / x.to_numpy(), n_boot=n_boot, seed=seed)
                row.update({tag: e.value, f"{tag} low": e.low, f"{tag} high": e.high})
            row["auc"], row["half level"] = _curve_summary(
                [[series(m, CLEAN, 0.0), *(series(m, MEAN, lv) for lv in curve)] for m in ms], curve
            )
            row["members"] = ", ".join(ms)
            robustness.append(row)
        here = robustness[first:]
        above = {r["encoder"] for r in here if r.get("clean", 0) >= floor}
        ranked = sorted((r[top], r["encoder"]) for r in here
                        if top and r["encoder"] in above and not np.isnan(r[top]))  # fmt: skip
        for ref in references:
            ref_enc = (ranked[0][1] if ranked else None) if ref == BEST else ref
            if ref_enc not in above:
                continue
            ref_ms = seeds_of[ref_enc]
            for fam, ms in seeds_of.items():
                if fam == ref_enc or fam not in above:
                    continue
                sizes = {"seeds": len(ms), "reference_seeds": len(ref_ms)}
                if len(ms) == 1 and len(ref_ms) == 1:  # one seed each: exactly the one-model tests
                    a, b = series(ms[0], CLEAN, 0.0).align(series(ref_ms[0], CLEAN, 0.0), join="inner")
                    d = paired_difference(a.to_numpy(), b.to_numpy(), n_boot=n_boot, n_perm=n_perm, seed=seed)
                else:
                    both = table(ms, CLEAN, 0.0), table(ref_ms, CLEAN, 0.0)
                    d = hierarchical_mean_difference(*both, n_boot=n_boot, n_test=n_perm, seed=seed)
                tests.append(_test_row(ref, ref_enc, fam, group, "clean MRR", d, sizes))
                for noise, level in conditions:
                    parts = [each(ms, CLEAN, 0.0), each(ms, noise, level), each(ref_ms, CLEAN, 0.0),
                             each(ref_ms, noise, level)]  # fmt: skip
                    if any(p is None for p in parts):
                        continue
                    if len(ms) == 1 and len(ref_ms) == 1:
                        joined = pd.concat([p[0] for p in parts], axis=1, join="inner").to_numpy().T
                        d = relative_drop_difference(*joined, n_boot=n_boot, n_perm=n_perm, seed=seed)
                    else:
                        four = [table(ms, CLEAN, 0.0), table(ms, noise, level), table(ref_ms, CLEAN, 0.0),
                                table(ref_ms, noise, level)]  # fmt: skip
                        d = hierarchical_drop_difference(*four, n_boot=n_boot, n_test=n_perm, seed=seed)
                    tests.append(_test_row(ref, ref_enc, fam, group, f"drop {noise} {level:g}", d, sizes))
    tests_df = pd.DataFrame(tests, columns=["reference", "reference_encoder", "encoder", "group", "quantity",
                                            "delta", "low", "high", "p", "n", "seeds",
                                            "reference_seeds"])  # fmt: skip
    tests_df["p_holm"] = np.nan
    for _, idx in tests_df.groupby("reference").groups.items():
        tests_df.loc[idx, "p_holm"] = holm(tests_df.loc[idx, "p"].to_numpy())
    tests_df["significant"] = tests_df["p_holm"] < 0.05
    tests_df["mark"] = tests_df["p_holm"].map(stars)
    return Answer(pd.DataFrame(robustness), tests_df, conditions, tuple(noises))


class _Tables:
    """Per-query values of one group as seeds x queries arrays (the layout of core.metrics.hierarchical), all
    over one column order: the queries of every listed model's clean rows, NaN where a series lacks one (the
    hierarchical functions drop such queries, which is the inner join on (corpus, lang, qid)). Each series is
    laid out once, not once per test: aligning pandas indexes per test cost more than the bootstrap."""

    def __init__(self, series: Callable[[str, str, float], pd.Series | None], models: Sequence[str]):
        self.series = series
        cleans = [s for s in (series(m, CLEAN, 0.0) for m in models) if s is not None and len(s)]
        self.index = cleans[0].index.append([c.index for c in cleans[1:]]).unique() if cleans else None
        self.cache: dict[tuple[str, str, float], np.ndarray] = {}

    def __call__(self, models: Sequence[str], noise: str, level: float) -> np.ndarray:
        """The models' values of one condition, one row per model (every model must have the condition)."""
        rows = []
        for m in models:
            key = (m, noise, round(level, 6))
            if key not in self.cache:
                self.cache[key] = self.series(m, noise, level).reindex(self.index).to_numpy(dtype=np.float64)
            rows.append(self.cache[key])
        return np.stack(rows)


def _curve_summary(parts: list[list[pd.Series | None]], curve: list[float]) -> tuple[float, float]:
    """(auc, half level) of clean MRR then "mean" MRR at ``curve``, averaged over the seeds (one list of
    points per seed), over the queries every point of every seed has."""
    flat = [p for seed_parts in parts for p in seed_parts]
    if not curve or any(p is None for p in flat):
        return np.nan, np.nan
    joined = pd.concat(flat, axis=1, join="inner")
    if joined.empty:
        return np.nan, np.nan
    lv, mrr = [0.0, *curve], joined.mean(axis=0).to_numpy().reshape(len(parts), -1).mean(axis=0)
    return auc(lv, mrr), level_at_half(lv, mrr)


def resource_groups(langs: Sequence[str]) -> dict[str, list[str]]:
    """``{"low": [...], "high": [...]}``: Joshi class 0-2 and 4-5 (``data/languages.csv``), plus
    ``"unknown"`` (:data:`UNKNOWN`) with the languages that ``data/languages.csv`` does not list, when there
    are any (a generic dataset's codes, a new dataset's): their resource class is unknown, so they are shown
    as such, never dropped or guessed into another group. Class 3 and languages listed there as unclassified
    stay in no group: the answer contrasts low with high resources, and class 3 sits between them.

    Example:
        >>> resource_groups(["deu", "amh", "swh"])
        {'low': ['amh', 'swh'], 'high': ['deu']}
        >>> resource_groups(["deu", "zzz"])
        {'low': [], 'high': ['deu'], 'unknown': ['zzz']}
    """
    from core.languages import load_languages

    meta = load_languages()
    classes = {code: meta[code].resource_class if code in meta else None for code in langs}
    groups = {
        "low": sorted(c for c, k in classes.items() if k is not None and k <= 2),
        "high": sorted(c for c, k in classes.items() if k is not None and k >= 4),
    }
    unknown = sorted(c for c in langs if c not in meta)
    if unknown:  # only then: the answer of a database of listed languages keeps its two groups
        groups[UNKNOWN] = unknown
    return groups


def group_label(group: str) -> str:
    """How a resource group is named in sentences and titles: ``"Low-resource"``, ``"High-resource"``,
    ``"Unknown resource class"`` (:data:`UNKNOWN`).

    Example:
        >>> group_label("low"), group_label(UNKNOWN)
        ('Low-resource', 'Unknown resource class')
    """
    return "Unknown resource class" if group == UNKNOWN else f"{group.capitalize()}-resource"


def _test_row(ref: str, ref_enc: str, enc: str, group: str, quantity: str, d, sizes: dict) -> dict:
    return {"reference": ref, "reference_encoder": ref_enc, "encoder": enc, "group": group,
            "quantity": quantity, "delta": d.delta, "low": d.low, "high": d.high, "p": d.p, "n": d.n,
            **sizes}  # fmt: skip


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
    are named as floors. Generated from the numbers, never written by hand. With a scope (``answer.scope``)
    each sentence opens with the dataset ("On FLORES-200, ..."), and on multi-way data with the languages the
    answer is over and their counts (:func:`_scope_prefix`).

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
        name = _scope_prefix(answer, group)
        if not (part["n"] > 0).any():  # no language of the group has clean cells (e.g. none is unseen)
            out[group] = f"{name}: no queries in this group; nothing to compare."
            continue
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


def _pp(x: float, sign: bool = False) -> str:
    """A difference of relative drops in percentage points: ``+4.1`` / ``4.1``; the minus sign is U+2212."""
    return (f"{x * 100:+.1f}" if sign else f"{abs(x) * 100:.1f}").replace("-", "−")


def comparison_headlines(
    answer: Answer,
    level: float | None = None,
    floor: float = FLOOR_MRR,
    models: Sequence[str] = SIMCSE,
    comparators: Mapping[str, str] = COMPARATORS,
) -> dict[str, str]:
    """Group -> one sentence answering the question as asked: how much more or less each of ``models`` (the
    SimCSE families) loses under noise than each of ``comparators`` (LaBSE's objective on the same base,
    then LaBSE itself where measured), at ``level`` (mean over the noise types). Generated from the numbers,
    never written by hand.

    Each number is a test of ``answer.tests`` against the comparator as reference, quantity ``"drop mean
    <level>"``: the paired difference of relative drops (model minus comparator, in percentage points: a
    positive difference means the model loses more of its clean MRR), its 95% interval and its Holm-adjusted
    p (significant below 0.05). The comparator's own drop and every family's training seeds are named.

    Guarantees: groups where none of ``models`` has a row are left out; a comparator missing from a group is
    said to be missing when it is LaBSE's objective (:data:`LABSE_OBJECTIVE`), left out otherwise (LaBSE is
    measured only where available); a comparator or model below ``floor``, or without a test at that level,
    is named as not compared. ``level`` defaults as in :func:`headlines`; sentences open as there (dataset,
    and the languages the answer is over on multi-way data).

    Example:
        A sentence reads: "Low-resource, noise level 0.2 (mean of substitute, delete; differences in
        percentage points of relative drop, 95% CI, Holm-adjusted p): Against LaBSE's objective on the same
        base (**labse-e5**, 3 training seeds, loses 20% [18%, 22%]), **simcse-bitext-e5** (1 training seed)
        loses 4.1 points more [+1.2, +7.0] (p 0.003, significant); ..."
    """
    levels = sorted(lv for n, lv in answer.conditions if n == MEAN)
    if level is None:
        level = 0.2 if 0.2 in levels else (levels[-1] if levels else None)
    if level is None:
        return {}
    tag = f"{MEAN} {level:g}"
    tests = answer.tests
    trained = {*models, LABSE_OBJECTIVE}
    out = {}
    for group, part in answer.robustness.groupby("group", sort=False):
        # A family without rows in this group (n = 0) is not there.
        rows = {r["encoder"]: r for r in part.to_dict("records") if r["n"] > 0}
        present = [m for m in models if m in rows]
        if not present:
            continue

        def seeds(enc: str, rows=rows) -> str | None:
            r = rows[enc]
            return seeds_text(int(r["seeds"])) if enc in trained and "seeds" in r else None

        clauses = []
        for comp, about in comparators.items():
            if comp not in rows:
                if comp == LABSE_OBJECTIVE:
                    clauses.append(
                        f"{about} ({comp}) is not in this database yet: nothing to compare against"
                    )
                continue
            r = rows[comp]
            if not r.get("clean", np.nan) >= floor:
                clauses.append(
                    f"{about} (**{comp}**) sits at the floor (clean MRR < {floor:g}): not compared"
                )
                continue
            own = r.get(tag, np.nan)
            lost = (
                None if pd.isna(own) else f"loses {own:.0%} [{r[f'{tag} low']:.0%}, {r[f'{tag} high']:.0%}]"
            )
            said = []
            for m in present:
                t = tests[(tests.reference == comp) & (tests.group == group) & (tests.encoder == m)
                          & (tests.quantity == f"drop {tag}")]  # fmt: skip
                if t.empty or pd.isna(t.iloc[0]["delta"]):
                    why = f"clean MRR < {floor:g}" if not rows[m].get("clean", np.nan) >= floor else "no test"
                    said.append(f"**{m}**: not compared ({why})")
                    continue
                t = t.iloc[0]
                d = t["delta"]
                how = "as much" if d == 0 else f"{_pp(d)} points {'more' if d > 0 else 'less'}"
                sig = "significant" if t["significant"] else "not significant"
                ci = f"[{_pp(t['low'], True)}, {_pp(t['high'], True)}]"
                said.append(f"**{m}** ({seeds(m)}) loses {how} {ci} (p {t['p_holm']:.2g}, {sig})")
            named = ", ".join(x for x in (f"**{comp}**", seeds(comp), lost) if x)
            clauses.append(f"against {about} ({named}), " + "; ".join(said))
        name = _scope_prefix(answer, group)
        noises = ", ".join(answer.noises) or "the noise types"
        text = " ".join(f"{c[0].upper()}{c[1:]}." for c in clauses)
        out[group] = (f"{name}, noise level {level:g} (mean of {noises}; differences in percentage points of "
                      f"relative drop, 95% CI, Holm-adjusted p): {text}")  # fmt: skip
    return out


# --- Datasets, languages seen in training, and multi-way parallel data --------------------------------------

# Display names of the stored dataset names (a SIB-200 split is stored as flores200-test, ...).
DATASET_TITLES = {"tatoeba": "Tatoeba", "flores200": "FLORES-200", "ntrex128": "NTREX-128"}


def dataset_title(dataset: str) -> str:
    """How sentences and titles name a stored dataset: ``"FLORES-200"``, ``"FLORES-200 (test split)"``,
    ``"NTREX-128"``, ``"Tatoeba"``; any other name as it is.

    Example:
        >>> dataset_title("flores200"), dataset_title("flores200-test"), dataset_title("my-set")
        ('FLORES-200', 'FLORES-200 (test split)', 'my-set')
    """
    base, _, split = str(dataset).partition("-")
    if base in DATASET_TITLES:
        return DATASET_TITLES[base] + (f" ({split} split)" if split else "")
    return str(dataset)


@dataclass(frozen=True)
class Scope:
    """The dataset and languages an answer is over, and which of them each compared model trained on.

    ``languages``: every evaluated language; ``models``: every compared model (each training seed its own);
    ``seen``: model -> the evaluated languages it trained on (models that trained on none are absent);
    ``unknown``: model -> the evaluated languages whose training status is unknown (a hub model's, or a
    language ``encoder_languages`` does not list); ``multiway``: the dataset is multi-way parallel
    (:func:`is_multiway`). On multi-way data most languages are training languages of some model (with other
    sentences), so the answer there is over :attr:`unseen`, the languages no compared model is known to have
    trained on, when any remain (:attr:`restricted`); :attr:`answered` is what the answer's groups cover.
    """

    dataset: str
    languages: tuple[str, ...]
    models: tuple[str, ...] = ()
    seen: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unknown: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    multiway: bool = False

    @property
    def unseen(self) -> tuple[str, ...]:
        """The evaluated languages no compared model is known to have trained on (unknown counts as not)."""
        trained = {lang for langs in self.seen.values() for lang in langs}
        return tuple(lang for lang in self.languages if lang not in trained)

    @property
    def restricted(self) -> bool:
        """Whether the answer is over :attr:`unseen` only: multi-way data where some language is unseen."""
        return self.multiway and bool(self.unseen)

    @property
    def answered(self) -> tuple[str, ...]:
        """The languages the answer's resource groups cover: :attr:`unseen` when :attr:`restricted`, else all."""
        return self.unseen if self.restricted else self.languages

    def status(self, model: str, lang: str) -> bool | None:
        """Whether ``model`` trained on ``lang``: True, False, or None when unknown."""
        if lang in self.seen.get(model, ()):
            return True
        return None if lang in self.unknown.get(model, ()) else False

    def to_dict(self) -> dict:
        """A JSON-ready dict; :meth:`from_dict` reads it back equal."""
        return {"dataset": self.dataset, "languages": list(self.languages), "models": list(self.models),
                "multiway": self.multiway,
                "seen": {m: list(v) for m, v in self.seen.items()},
                "unknown": {m: list(v) for m, v in self.unknown.items()}}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping) -> Scope:
        """Inverse of :meth:`to_dict`."""
        return cls(str(d["dataset"]), tuple(d["languages"]), tuple(d["models"]),
                   {m: tuple(v) for m, v in d["seen"].items()},
                   {m: tuple(v) for m, v in d["unknown"].items()}, bool(d["multiway"]))  # fmt: skip


def answer_scope(
    dataset: str, langs: Iterable[str], seen: pd.DataFrame | None, models: Iterable[str]
) -> Scope:
    """The :class:`Scope` of an answer of ``dataset`` over ``langs`` comparing ``models``.

    Args:
        seen: columns encoder, lang, seen_in_training (True / False / None; as
            ``core.store.queries.answer_seen`` reads them); None or a missing (model, language) is unknown.

    Guarantees: deterministic (sorted languages and models); only ``models`` and ``langs`` appear in it.

    Example:
        >>> seen = pd.DataFrame({"encoder": ["a", "a", "b"], "lang": ["x", "y", "x"],
        ...                      "seen_in_training": [True, False, None]})
        >>> s = answer_scope("flores200", ["x", "y"], seen, ["a", "b"])
        >>> s.unseen, s.restricted, s.status("b", "y")
        (('y',), True, None)
    """
    langs = sorted(set(langs))
    models = sorted(set(models))
    status: dict[tuple[str, str], bool | None] = {}
    if seen is not None and len(seen):
        for enc, lang, flag in seen[["encoder", "lang", "seen_in_training"]].itertuples(index=False):
            status[(enc, lang)] = None if flag is None or pd.isna(flag) else bool(flag)
    trained = {m: tuple(lg for lg in langs if status.get((m, lg)) is True) for m in models}
    unknown = {m: tuple(lg for lg in langs if status.get((m, lg)) is None) for m in models}
    return Scope(str(dataset), tuple(langs), tuple(models), {m: v for m, v in trained.items() if v},
                 {m: v for m, v in unknown.items() if v}, is_multiway(dataset))  # fmt: skip


def scope_notes(scope: Scope) -> list[str]:
    """Sentences saying which languages the answer of ``scope`` is over and why: per compared model how many
    evaluated languages it trained on, whose training languages are unknown, and (multi-way data) that the
    answer is over the languages no compared model trained on, or over all of them when none remain.

    Example:
        >>> s = Scope("flores200", ("x", "y", "z"), ("a", "b"), {"a": ("x",)}, {"b": ("x", "y", "z")}, True)
        >>> scope_notes(s)[0]
        'On FLORES-200, 1 of the 3 evaluated languages is a training language of a compared model (a: 1).'
    """
    title, n = dataset_title(scope.dataset), len(scope.languages)
    trained = {lang for langs in scope.seen.values() for lang in langs}
    per_model = ", ".join(f"{m}: {len(v)}" for m, v in scope.seen.items())
    what = "is a training language" if len(trained) == 1 else "are training languages"
    out = [f"On {title}, {len(trained)} of the {n} evaluated languages {what} of a compared model"
           + (f" ({per_model})." if per_model else ".")]  # fmt: skip
    if scope.unknown:
        out.append("Training languages unknown (counted as not trained on): " + ", ".join(
            f"{m} ({'all' if len(v) == n else len(v)} of the {n})" for m, v in scope.unknown.items()) + ".")  # fmt: skip
    if scope.restricted:
        out.append(f"Multi-way parallel data: the headline, the robustness table and the tests are over the "
                   f"{len(scope.unseen)} languages no compared model trained on; the per-language panel shows "
                   f"all {n}.")  # fmt: skip
    elif scope.multiway:
        out.append(f"Multi-way parallel data: every evaluated language is a training language of a compared "
                   f"model, so the headline, the table and the tests are over all {n} languages, seen in "
                   f"training included.")  # fmt: skip
    return out


def _scope_prefix(answer: Answer, group: str) -> str:
    """How a sentence of ``answer`` opens for ``group``: ``"Low-resource"`` without a scope, else the dataset
    and, on multi-way data, the languages the answer is over, with their counts."""
    name = group_label(group)
    scope = answer.scope
    if scope is None:
        return name
    title, n = dataset_title(scope.dataset), len(scope.languages)
    size = len(resource_groups(scope.answered).get(group, ()))
    lower = name[0].lower() + name[1:]
    if scope.restricted:
        return (f"On {title}, over the {len(scope.unseen)} of {n} languages that no compared model trained on, "
                f"{lower} ({size} of them)")  # fmt: skip
    if scope.multiway:
        return (f"On {title}, over all {n} languages, seen in training included (none is left that no compared "
                f"model trained on), {lower} ({size} of them)")  # fmt: skip
    return f"On {title}, {lower}"


def language_meta(langs: Iterable[str]) -> dict[str, tuple[str, int | None]]:
    """Language -> (ISO 15924 script, Joshi resource class or None) from ``data/languages.csv`` (keyed by the
    dataset's own code); the script of a code the registry does not list (or lists without one) is the code's
    own (``amh_Ethi`` -> ``Ethi``, :func:`core.datasets.codes.split_code`), else ``""``; its class None.

    Example:
        >>> language_meta(["deu", "zzz_Latn"])
        {'deu': ('Latn', 5), 'zzz_Latn': ('Latn', None)}
    """
    from core.datasets.codes import split_code
    from core.languages import load_languages

    registry = load_languages()
    out = {}
    for code in langs:
        lang = registry.get(code)
        script = lang.script if lang and lang.script else ""
        if not script:
            try:
                script = split_code(code)[1] or ""
            except ValueError:
                script = ""
        out[code] = (script, lang.resource_class if lang else None)
    return out


@dataclass(frozen=True)
class Breakdown:
    """Every language's relative drop, and how drop ranks against resource class (multi-way parallel data).

    ``drops``: one row per (encoder, lang, noise, level): script, resource_class (0-5; NaN when unknown), seen (the
    encoder trained on the language: True / False / None), n (queries), clean (MRR), drop with its 95%
    query-bootstrap interval (low, high), floor (clean MRR below the floor). ``correlations``: one row per
    (encoder, noise, level): Spearman's rho of resource class and drop with its 95% two-level bootstrap
    interval (low, high), n (languages used), floor and unclassified (languages left out: at the floor, or
    of no known resource class). ``meta``: lang -> (script, resource class) as :func:`language_meta` gave
    them (a reclassified language makes a stored breakdown stale)."""

    drops: pd.DataFrame
    correlations: pd.DataFrame
    meta: Mapping[str, tuple[str, int | None]] = field(default_factory=dict)


DROP_COLUMNS = ["encoder", "lang", "script", "resource_class", "seen", "noise", "level", "n", "clean", "drop",
                "low", "high", "floor"]  # fmt: skip
CORRELATION_COLUMNS = ["encoder", "noise", "level", "rho", "low", "high", "n", "floor", "unclassified"]


@_one_blas_thread
def language_breakdown(
    rows: pd.DataFrame,
    scope: Scope,
    *,
    noises: Sequence[str] = NOISES,
    floor: float = FLOOR_MRR,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> Breakdown:
    """Per encoder, every language's relative drop under each noise type and level (and their mean, as in
    :func:`research_answer`), and the Spearman correlation of resource class and drop across languages.

    Definitions: a language's relative drop at a condition is ``1 - MRR(noisy) / MRR(clean)`` over its
    queries that have both, with the 95% percentile bootstrap over those queries of
    :func:`core.metrics.relative_drop_ci` (the same draws for the same ``seed``; languages with the same
    number of queries draw the same query positions, which on multi-way data are the same sentences).
    ``mean`` at a level averages each query's reciprocal rank over ``noises`` (those the rows hold; only at
    levels every one of them has), so its drop is the mean of the per-noise drops. The correlation is
    :func:`core.metrics.spearman_ci` of resource class (Joshi 0-5) and drop over the languages whose clean
    MRR reaches ``floor`` (a drop from a floor is not robustness) and whose class is known; languages are
    resampled with replacement, and each drawn language's queries (seed ``seed``).

    Args:
        rows: columns corpus, encoder, lang, noise, level, qid, rank (one dataset, mode and seed; clean rows
            have noise ``"none"``, level 0).
        scope: the answer's :class:`Scope` (its ``seen`` marks each row).

    Returns:
        A :class:`Breakdown`; every encoder of ``rows`` (each training seed its own), languages sorted.

    Guarantees: deterministic for a seed; a language without clean rows, or without a condition, has no row
    for it; a clean MRR of 0 gives a NaN drop, never an error.

    Example:
        >>> rows = pd.DataFrame({"corpus": "c", "encoder": "a", "lang": "xx", "qid": [0, 1, 0, 1],
        ...                      "noise": ["none", "none", "delete", "delete"], "level": [0, 0, .2, .2],
        ...                      "rank": [1, 1, 1, 4]})
        >>> b = language_breakdown(rows, answer_scope("flores200", ["xx"], None, ["a"]), n_boot=10)
        >>> b.drops[["noise", "drop"]].values.tolist()  # MRR 1 -> 0.625
        [['delete', 0.375], ['mean', 0.375]]
    """
    meta = language_meta(sorted(rows["lang"].unique()))
    have = {
        (n, round(float(lv), 6))
        for n, lv in rows[["noise", "level"]].drop_duplicates().itertuples(index=False)
    }
    noises = [n for n in noises if any(h[0] == n for h in have)]
    levels = sorted({lv for n, lv in have if lv > 0 and n in noises})
    conds = [(n, lv) for lv in levels for n in noises if (n, lv) in have]
    conds += [(MEAN, lv) for lv in levels if noises and all((n, lv) in have for n in noises)]
    rr = rows.assign(
        rr=1.0 / rows["rank"].to_numpy(dtype=np.float64), level=rows["level"].astype(float).round(6)
    )
    wide = rr.pivot(index=["encoder", "lang", "corpus", "qid"], columns=["noise", "level"], values="rr")
    col = {(n, float(lv)): i for i, (n, lv) in enumerate(wide.columns)}
    clean_at = col.get((CLEAN, 0.0))
    values = wide.to_numpy(dtype=np.float64)
    # One block of rows per (encoder, lang): the pivot's index is sorted, so each is one contiguous slice.
    codes = np.stack([wide.index.codes[0], wide.index.codes[1]], axis=1)
    starts = np.flatnonzero(np.r_[True, (codes[1:] != codes[:-1]).any(axis=1)]) if len(codes) else []
    bounds = zip(starts, [*starts[1:], len(codes)])
    draws: dict[int, np.ndarray] = {}
    drops, reps = [], {}
    for a, b in bounds if clean_at is not None else ():
        enc, lang = wide.index[a][0], wide.index[a][1]
        block = values[a:b]
        clean_all = block[:, clean_at]
        if not np.isfinite(clean_all).any():
            continue
        mrr = float(np.nanmean(clean_all))
        script, klass = meta[lang]
        for noise, level in conds:
            at = [col.get((n, level)) for n in noises] if noise == MEAN else [col.get((noise, level))]
            if any(i is None for i in at):
                continue
            noisy = block[:, at].mean(axis=1)  # NaN where a noise type lacks the query: not averaged
            ok = np.isfinite(clean_all) & np.isfinite(noisy)
            n = int(ok.sum())
            if n == 0:
                continue
            if n not in draws:
                draws[n] = query_draws(seed, n, n_boot)
            value, r = _drop_replicates(clean_all[ok], noisy[ok], draws[n], n_boot)
            if np.isfinite(r).any():
                low, high = (float(v) for v in np.nanquantile(r, [alpha / 2, 1 - alpha / 2]))
            else:
                low = high = np.nan
            drops.append((enc, lang, script, klass, scope.status(enc, lang), noise, float(level), n, mrr, value,
                          low, high, bool(mrr < floor)))  # fmt: skip
            reps[(enc, noise, float(level), lang)] = r
    drop_df = pd.DataFrame(drops, columns=DROP_COLUMNS)
    drop_df["resource_class"] = drop_df["resource_class"].astype(np.float64)  # None -> NaN: unknown
    drop_df["seen"] = drop_df["seen"].astype(object)  # True / False / None, never coerced to NaN
    corr = []
    for (enc, noise, level), part in drop_df.groupby(["encoder", "noise", "level"], sort=False):
        floor_out = part["floor"]
        known = part["resource_class"].notna() & ~floor_out & part["drop"].notna()
        use = part[known]
        e = spearman_ci(use["resource_class"].to_numpy(), use["drop"].to_numpy(),
                        np.stack([reps[(enc, noise, level, lg)] for lg in use["lang"]]) if len(use) else
                        np.zeros((0, n_boot)), alpha=alpha, seed=seed)  # fmt: skip
        unclassified = int((part["resource_class"].isna() & ~floor_out).sum())
        corr.append((enc, noise, level, e.value, e.low, e.high, e.n, int(floor_out.sum()), unclassified))
    corr_df = pd.DataFrame(corr, columns=CORRELATION_COLUMNS)
    return Breakdown(drop_df, corr_df, meta)


def default_condition(breakdown: Breakdown) -> tuple[str, float] | None:
    """The condition the per-language panel opens on: the mean of the noise types at the highest level that
    has it, else the first noise type at the highest level; None for an empty breakdown."""
    d = breakdown.drops
    if d.empty:
        return None
    top = float(d["level"].max())
    at = d[d["level"] == top]
    noise = MEAN if (at["noise"] == MEAN).any() else sorted(at["noise"].unique())[0]
    return noise, top


def breaking_languages(
    breakdown: Breakdown, noise: str | None = None, level: float | None = None, k: int = 5
) -> pd.DataFrame:
    """Per encoder, the ``k`` languages that break most (largest relative drop) and the ``k`` that break
    least, at (``noise``, ``level``) (default :func:`default_condition`), among languages above the floor.

    Returns:
        Columns encoder, end (``"most"`` / ``"least"``), position (1 = the extreme), lang, drop, low, high,
        seen; ties are broken by language code. Fewer rows when an encoder has fewer languages (a language can
        then be on both ends).

    Example:
        >>> d = pd.DataFrame({"encoder": "a", "lang": ["x", "y", "z"], "noise": "mean", "level": 0.2,
        ...                   "drop": [0.3, 0.1, 0.2], "low": 0.0, "high": 1.0, "seen": False, "floor": False})
        >>> breaking_languages(Breakdown(d, pd.DataFrame()), k=1)[["end", "lang"]].values.tolist()
        [['most', 'x'], ['least', 'y']]
    """
    if noise is None or level is None:
        cond = default_condition(breakdown)
        if cond is None:
            return pd.DataFrame(columns=["encoder", "end", "position", "lang", "drop", "low", "high", "seen"])
        noise = cond[0] if noise is None else noise
        level = cond[1] if level is None else level
    d = breakdown.drops
    d = d[(d["noise"] == noise) & np.isclose(d["level"], level) & ~d["floor"] & d["drop"].notna()]
    out = []
    for enc, part in d.groupby("encoder", sort=False):
        most = part.sort_values(["drop", "lang"], ascending=[False, True]).head(k)
        least = part.sort_values(["drop", "lang"]).head(k)
        for end, chosen in (("most", most), ("least", least)):
            for i, r in enumerate(chosen.itertuples(index=False), start=1):
                out.append((enc, end, i, r.lang, r.drop, r.low, r.high, r.seen))
    return pd.DataFrame(out, columns=["encoder", "end", "position", "lang", "drop", "low", "high", "seen"])
