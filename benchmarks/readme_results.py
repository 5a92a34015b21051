"""Print the README's results section from a results DB and draw its chart (docs/results.png).

    python benchmarks/readme_results.py --db results/demo.duckdb [--png docs/results.png]

Pair mode, noise seed 0. The research answer comes from ``core.research.research_answer`` (the dashboard's
Findings page shows the same numbers): relative drop = 1 - MRR(level) / MRR(clean) with a 95% paired
bootstrap over queries (1000 resamples, seed 0); paired randomization tests (10,000 permutations) of each
model against ``e5-small``, ``simcse-bitext-e5``, ``labse-e5`` (LaBSE's objective on the same base) and
``labse`` (LaBSE itself, where the database has it), Holm-corrected over every test against the same
reference. Training seeds ``NAME-s1``, ``NAME-s2``, ... are averaged into ``NAME``'s row (every table here
has one row per family), with hierarchical bootstrap intervals and tests (``core.metrics.hierarchical``). A
resource group pools the queries of its languages. Low-resource = Joshi class <= 2, high-resource = class
>= 4 (data/languages.csv). LaBSE's published clean accuracy@1 (MTEB re-run, data/published/) is kept as a
labelled row; it is not measured here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.conditions import CLEAN_NOISE  # noqa: E402
from core.languages import published_reference  # noqa: E402
from core.metrics import mrr as mean_rr  # noqa: E402
from core.metrics import relative_drop_ci  # noqa: E402
from core.research import (  # noqa: E402
    COMPARATORS,
    PUBLISHED_LABSE,
    TRAINED_PREFIXES,
    comparison_headlines,
    headlines,
    research_answer,
    resource_groups,
    robustness_markdown,
    seeds_text,
    significance_marks,
    training_seed,
)
from core.store import connect  # noqa: E402
from core.store import queries as q  # noqa: E402

ORDER = [
    "e5-small", "e5-small-torch", "simcse-unsup-e5", "simcse-bitext-e5", "simcse-noisy-e5", "labse-e5",
    "labse", "typo-e5", "optical-e5", "muse3", "minilm",
]  # then other trained models, alphabetically (model families: training seeds are averaged)  # fmt: skip
LEVELS = (0.1, 0.2)


def _order(encoders) -> list[str]:
    """The model families of ``encoders`` (``NAME-s<k>`` is a training seed of ``NAME``), in README order."""
    families = {training_seed(e)[0] for e in encoders}
    return [e for e in ORDER if e in families] + sorted(families - set(ORDER))


def _fmt(e) -> str:
    return "n/a" if np.isnan(e.value) else f"{e.value:.3f} [{e.low:.3f}, {e.high:.3f}]"


def load(db: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Pair-mode seed-0 rank rows with a ``group`` column, and language -> group."""
    with connect(db, read_only=True) as conn:
        rows = q.rank_rows(
            conn, ["corpus", "encoder", "lang", "noise", "level", "seed", "qid", "rank"], mode="pair"
        )
    rows = rows[rows.seed == 0]
    groups = resource_groups(sorted(rows.lang.unique()))
    group = {
        code: next((g for g, members in groups.items() if code in members), "mid")
        for code in rows.lang.unique()
    }
    return rows.assign(group=rows.lang.map(group)), group


def paired(rows: pd.DataFrame, enc: str, noise: str, level: float, mask) -> tuple[np.ndarray, np.ndarray]:
    """Clean and noisy ranks of the same queries (keyed on corpus, language and query id)."""
    key = ["corpus", "lang", "qid"]
    sel = rows[(rows.encoder == enc) & mask]
    clean = sel[sel.noise == CLEAN_NOISE].set_index(key)["rank"]
    noisy = sel[(sel.noise == noise) & np.isclose(sel.level, level)].set_index(key)["rank"]
    both = clean.to_frame("c").join(noisy.rename("n"), how="inner")
    return both["c"].to_numpy(), both["n"].to_numpy()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="results/demo.duckdb")
    ap.add_argument("--png", default="docs/results.png")
    args = ap.parse_args()
    rows, group = load(args.db)
    encoders = _order(rows.encoder.unique())
    noises = [n for n in ("substitute", "keyboard", "delete") if n in set(rows.noise)]
    mrr = (
        rows.groupby(["encoder", "corpus", "lang", "noise", "level"])["rank"]
        .apply(mean_rr)
        .rename("mrr")
        .reset_index()
    )
    # One row per family, as in the research answer: the mean over training seeds of each seed's MRR.
    mrr = (
        mrr.assign(encoder=mrr.encoder.map(lambda e: training_seed(e)[0]))
        .groupby(["encoder", "corpus", "lang", "noise", "level"], as_index=False)["mrr"]
        .mean()
    )
    published = published_reference()
    low = sorted(c for c, g in group.items() if g == "low")
    high = sorted(c for c, g in group.items() if g == "high")
    cols = low + high

    print("### Clean MRR (pair mode)\n")
    c = (
        mrr[mrr.noise == CLEAN_NOISE]
        .pivot_table(index="encoder", columns="lang", values="mrr")
        .reindex(encoders)
    )
    c = c[cols]
    c["mean low"], c["mean high"] = c[low].mean(axis=1), c[high].mean(axis=1)
    pub = pd.DataFrame([{**{k: published.get(k, np.nan) for k in cols}}], index=[PUBLISHED_LABSE])
    pub["mean low"], pub["mean high"] = pub[low].mean(axis=1), pub[high].mean(axis=1)
    print(pd.concat([c, pub]).round(3).to_markdown() + "\n")
    print(f"Low-resource: {', '.join(low)}; high-resource: {', '.join(high)}.\n")

    answer = research_answer(rows, {"low": low, "high": high}, encoders=encoders)
    print("### The research answer: relative MRR drop under noise, by resource group\n")
    for sentence in [*comparison_headlines(answer).values(), *headlines(answer).values()]:
        print(f"- {sentence}")
    print(
        "\nClean MRR and relative drop (95% paired bootstrap CI). Marks: Holm-corrected paired randomization "
        "test (p < 0.05) against `e5-small` (▲ higher / ▼ lower) and against `simcse-bitext-e5` (△ higher / "
        "▽ lower); a lower drop is more robust. Encoders at the floor (clean MRR < 0.3) are not tested.\n"
    )
    print(_research_table(answer, {"low": low, "high": high}))
    print("\n" + _models_note(answer))
    tests = answer.tests
    counts = tests.groupby(["reference", "group"])["significant"].agg(["sum", "count"])
    print("\nPaired tests significant after Holm (the marks above): " + "; ".join(
        f"vs `{ref}`, {grp}-resource: {int(r['sum'])} of {int(r['count'])}" for (ref, grp), r in counts.iterrows()
    ) + ". Every test, with its difference, interval and p-values, is on the dashboard's Findings page.")  # fmt: skip
    print()

    for enc in [e for e in encoders if e.startswith("e5-small")][:1]:
        print(f"### Where `{enc}` breaks most: relative drop at level 0.2, per language\n")
        print(
            "| lang | group | clean MRR | " + " | ".join(noises) + " |\n|---|---|---|" + "---|" * len(noises)
        )
        for lang in cols:
            drops = []
            for noise in noises:
                cl, no = paired(rows, enc, noise, 0.2, rows.lang == lang)
                drops.append(_fmt(relative_drop_ci(cl, no)) if len(cl) else "n/a")
            print(f"| {lang} | {group[lang]} | {c.loc[enc, lang]:.3f} | " + " | ".join(drops) + " |")
        print()

    _chart(mrr, group, encoders, published, args.png)
    print(f"![MRR against noise level, by resource group]({args.png})")


def _research_table(answer, groups: dict[str, list[str]]) -> str:
    marks = significance_marks(answer.tests, "e5-small", "▲", "▼")
    for key, mark in significance_marks(answer.tests, "simcse-bitext-e5", "△", "▽").items():
        marks[key] = marks.get(key, "") + mark
    lines = [robustness_markdown(answer, marks)]
    published = published_reference()
    blanks = " | ".join("-" for _ in answer.conditions)
    for group, langs in groups.items():
        ref = [published[x] for x in langs if x in published]
        if ref:
            lines.append(f"| {PUBLISHED_LABSE} | {group} | {np.mean(ref):.3f} (mean of {len(ref)}) | "
                         f"{blanks} |")  # fmt: skip
    return "\n".join(lines)


def _models_note(answer) -> str:
    """What the comparators are and how many training seeds each row averages (1 training seed: the
    intervals and tests cover the sampling of queries only)."""
    rob = answer.robustness
    about = [f"`{enc}`: {text}" for enc, text in COMPARATORS.items() if enc in set(rob.encoder)]
    trained = rob[rob.encoder.str.startswith(TRAINED_PREFIXES) & (rob.seeds > 0)]
    seeds = trained.groupby("encoder", sort=False)["seeds"].max()
    by_count = {k: [e for e, v in seeds.items() if v == k] for k in sorted(set(seeds))}
    counts = "; ".join(
        f"{seeds_text(int(k))}: {', '.join(f'`{e}`' for e in encs)}" for k, encs in by_count.items()
    )
    note = " · ".join(about) + ". " if about else ""
    if counts:
        note += (f"Training seeds per trained model ({counts}). A row of several seeds is the mean over them, "
                 "with hierarchical bootstrap intervals and tests (seeds, then queries); with 1 training seed the "
                 "intervals and tests cover the sampling of queries only, not the spread between training "
                 "runs.")  # fmt: skip
    return note


def _chart(mrr: pd.DataFrame, group: dict, encoders: list[str], published: dict, png: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    noises = [n for n in ("substitute", "keyboard") if n in set(mrr.noise)]
    fig, axes = plt.subplots(len(noises), 2, figsize=(11, 3.8 * len(noises)), sharey=True, squeeze=False)
    palette = plt.get_cmap("tab20").colors  # 20 colours: one per encoder, repeated only past 20
    colours = {e: palette[i % len(palette)] for i, e in enumerate(encoders)}
    for row, noise in enumerate(noises):
        sub = mrr[mrr.noise.isin([CLEAN_NOISE, noise])]
        for ax, grp in zip(axes[row], ("low", "high")):
            langs = [lg for lg, g in group.items() if g == grp]
            for enc in encoders:
                g = sub[(sub.encoder == enc) & sub.lang.isin(langs)]
                if g.empty:
                    continue
                m = g.groupby("level").mrr.mean()
                ax.plot(m.index, m.values, marker="o", label=enc, color=colours[enc])
            ref = [published[lg] for lg in langs if lg in published]
            if ref:
                ax.scatter([0], [np.mean(ref)], marker="*", s=160, color="black", zorder=5,
                           label=PUBLISHED_LABSE)  # fmt: skip
            ax.set_title(f"{grp}-resource ({', '.join(sorted(langs))}): {noise}", fontsize=9)
            ax.set_xlabel("noise level")
            ax.grid(alpha=0.3)
        axes[row][0].set_ylabel("MRR (mean over languages, pair mode)")
    handles, labels = axes[0][1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(png, dpi=90)


if __name__ == "__main__":
    main()
