"""Print the README's results section from a results DB and draw its chart (docs/results.png).

    python benchmarks/readme_results.py --db results/demo.duckdb [--png docs/results.png]

Pair mode, seed 0. Relative drop = 1 - MRR(level) / MRR(clean), from ``core.metrics.relative_drop_ci``: a
95% percentile bootstrap over queries that resamples the same queries for the clean and the noisy MRR
(paired), 1000 resamples, seed 0. A resource group pools the queries of its languages.
Low-resource = Joshi class <= 2, high-resource = class >= 4 (data/languages.csv). LaBSE's figures are
published clean accuracy@1 (MTEB re-run, data/published/), not measured here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.languages import load_languages, published_reference  # noqa: E402
from core.metrics import mrr as mean_rr  # noqa: E402
from core.metrics import relative_drop_ci  # noqa: E402
from core.store import connect  # noqa: E402
from core.store import queries as q  # noqa: E402

ORDER = ["e5-small", "e5-small-torch", "muse3", "minilm"]  # then trained models, alphabetically
LEVELS = (0.1, 0.2)


def _order(encoders) -> list[str]:
    return [e for e in ORDER if e in set(encoders)] + sorted(set(encoders) - set(ORDER))


def _fmt(e) -> str:
    return "n/a" if np.isnan(e.value) else f"{e.value:.3f} [{e.low:.3f}, {e.high:.3f}]"


def load(db: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Pair-mode seed-0 rank rows with a ``group`` column, and language -> group."""
    with connect(db, read_only=True) as conn:
        rows = q.rank_rows(
            conn, ["corpus", "encoder", "lang", "noise", "level", "seed", "qid", "rank"], mode="pair"
        )
    rows = rows[rows.seed == 0]
    langs = load_languages()
    group = {}
    for code in rows.lang.unique():
        k = langs[code].resource_class if code in langs else None
        group[code] = "low" if (k is not None and k <= 2) else "high" if (k is not None and k >= 4) else "mid"
    return rows.assign(group=rows.lang.map(group)), group


def paired(rows: pd.DataFrame, enc: str, noise: str, level: float, mask) -> tuple[np.ndarray, np.ndarray]:
    """Clean and noisy ranks of the same queries (keyed on corpus, language and query id)."""
    key = ["corpus", "lang", "qid"]
    sel = rows[(rows.encoder == enc) & mask]
    clean = sel[sel.noise == "none"].set_index(key)["rank"]
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
    published = published_reference()
    low = sorted(c for c, g in group.items() if g == "low")
    high = sorted(c for c, g in group.items() if g == "high")
    cols = low + high

    print("### Clean MRR (pair mode)\n")
    c = mrr[mrr.noise == "none"].pivot_table(index="encoder", columns="lang", values="mrr").reindex(encoders)
    c = c[cols]
    c["mean low"], c["mean high"] = c[low].mean(axis=1), c[high].mean(axis=1)
    pub = pd.DataFrame([{**{k: published.get(k, np.nan) for k in cols}}], index=["LaBSE (published acc@1)"])
    pub["mean low"], pub["mean high"] = pub[low].mean(axis=1), pub[high].mean(axis=1)
    print(pd.concat([c, pub]).round(3).to_markdown() + "\n")
    print(f"Low-resource: {', '.join(low)}; high-resource: {', '.join(high)}.\n")

    print(
        "### Relative MRR drop by noise type and resource group (pooled queries, 95% paired bootstrap CI)\n"
    )
    header = [f"{n} {lv:g}" for n in noises for lv in LEVELS]
    print(
        "| encoder | group | clean MRR | " + " | ".join(header) + " |\n|---|---|---|" + "---|" * len(header)
    )
    for enc in encoders:
        for grp, langs in (("low", low), ("high", high)):
            cells = []
            for noise in noises:
                for level in LEVELS:
                    cl, no = paired(rows, enc, noise, level, rows.lang.isin(langs))
                    cells.append(_fmt(relative_drop_ci(cl, no)) if len(cl) else "n/a")
            base = rows[(rows.encoder == enc) & (rows.noise == "none") & rows.lang.isin(langs)]["rank"]
            # A drop from a floor is not robustness: show where each group starts.
            start = f"{mean_rr(base):.3f}" if len(base) else "n/a"
            print(f"| {enc} | {grp} | {start} | " + " | ".join(cells) + " |")
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


def _chart(mrr: pd.DataFrame, group: dict, encoders: list[str], published: dict, png: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    noises = [n for n in ("substitute", "keyboard") if n in set(mrr.noise)]
    fig, axes = plt.subplots(len(noises), 2, figsize=(11, 3.8 * len(noises)), sharey=True, squeeze=False)
    colours = dict(zip(encoders, plt.get_cmap("tab10").colors))
    for row, noise in enumerate(noises):
        sub = mrr[mrr.noise.isin(["none", noise])]
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
                           label="LaBSE, published clean acc@1 (not measured)")  # fmt: skip
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
