"""Print the README's results section from a results DB and draw its chart (docs/results.png).

    python benchmarks/readme_results.py --db results/demo.duckdb

Pair mode, seed-averaged. Relative drop = 1 - MRR(level) / MRR(clean). CIs: 95% percentile bootstrap over
queries, resampling the same queries for the clean and noisy MRR (paired), 1000 resamples, seed 0.
Low-resource = Joshi class <= 2, high-resource = class >= 4 (data/languages.csv).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.languages import load_languages  # noqa: E402
from core.store import connect  # noqa: E402
from core.store import queries as q  # noqa: E402


def rel_drop_ci(
    clean: np.ndarray, noisy: np.ndarray, seed: int = 0, n_boot: int = 1000
) -> tuple[float, float, float]:
    """Relative MRR drop with a paired bootstrap CI; inputs are per-query ranks aligned by query."""
    rng = np.random.default_rng(seed)
    c, n = 1.0 / clean, 1.0 / noisy
    idx = rng.integers(0, len(c), size=(n_boot, len(c)))
    boots = 1 - n[idx].mean(1) / c[idx].mean(1)
    return float(1 - n.mean() / c.mean()), *np.quantile(boots, [0.025, 0.975]).tolist()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="results/demo.duckdb")
    ap.add_argument("--png", default="docs/results.png")
    args = ap.parse_args()
    with connect(args.db, read_only=True) as conn:
        rows = q.rank_rows(
            conn, ["corpus", "encoder", "lang", "noise", "level", "seed", "qid", "rank"], mode="pair"
        )
    # Aggregates are keyed by language below; refuse rather than average two corpora of one language (e.g.
    # two datasets in one DB).
    per_lang = rows.groupby("lang")["corpus"].nunique()
    if (per_lang > 1).any():
        raise SystemExit(f"error: languages {sorted(per_lang[per_lang > 1].index)} have several corpora in "
                         f"{args.db}; use a database of one dataset")  # fmt: skip
    langs = load_languages()
    cls = {code: langs[code].resource_class for code in rows.lang.unique()}
    group = {
        c: ("low" if (k is not None and k <= 2) else "high" if (k is not None and k >= 4) else "mid")
        for c, k in cls.items()
    }
    clean = rows[rows.noise == "none"].set_index(["encoder", "lang", "qid"])["rank"]
    mrr = (
        rows.groupby(["encoder", "noise", "level", "corpus", "lang"])["rank"]
        .apply(lambda r: (1 / r).mean())
        .rename("mrr")
        .reset_index()
        .drop(columns="corpus")
    )

    print("### Clean MRR (pair mode)\n")
    c = mrr[mrr.noise == "none"].pivot(index="encoder", columns="lang", values="mrr")
    c["mean"] = c.mean(axis=1)
    print(c.round(3).to_markdown() + "\n")

    print("### Relative MRR drop at level 0.2, by noise type and resource group (mean over languages)\n")
    out = []
    for (enc, noise), g in mrr[(mrr.level == 0.2) & (mrr.noise != "none")].groupby(["encoder", "noise"]):
        for grp in ("low", "high"):
            drops = [1 - r.mrr / c.loc[enc, r.lang] for r in g.itertuples() if group[r.lang] == grp]
            out.append(
                {"encoder": enc, "noise": noise, "group": grp, "drop": np.mean(drops) if drops else np.nan}
            )
    t = pd.DataFrame(out).pivot_table(index=["encoder"], columns=["noise", "group"], values="drop")
    print(t.round(3).to_markdown() + "\n")

    pairs = [("simcse-noisy-minilm", "simcse-bitext-minilm")]
    if all(e in c.index for p in pairs for e in p):
        print("### Noise-augmented vs plain bitext SimCSE: relative drop, held-out low-resource languages\n")
        print(
            "| noise | level | lang | bitext drop [95% CI] | noisy-bitext drop [95% CI] |\n|---|---|---|---|---|"
        )
        for noise in ("substitute", "keyboard"):
            for level in (0.1, 0.2):
                for lang in sorted(x for x in rows.lang.unique() if group[x] == "low") + ["all low"]:
                    cells = []
                    for enc in ("simcse-bitext-minilm", "simcse-noisy-minilm"):
                        sel = rows[(rows.encoder == enc) & (rows.noise == noise) & (rows.level == level)]
                        if lang != "all low":
                            sel = sel[sel.lang == lang]
                        else:
                            sel = sel[sel.lang.map(group) == "low"]
                        base = clean.loc[[(enc, lg, qq) for lg, qq in zip(sel.lang, sel.qid)]].to_numpy()
                        d, lo, hi = rel_drop_ci(base, sel["rank"].to_numpy())
                        cells.append(f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
                    print(f"| {noise} | {level} | {lang} | {cells[0]} | {cells[1]} |")
        print()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    sub = mrr[mrr.noise.isin(["none", "substitute"])]
    for ax, grp in zip(axes, ("low", "high")):
        for enc, g in sub[sub.lang.map(group) == grp].groupby("encoder"):
            m = g.groupby("level").mrr.mean()
            ax.plot(m.index, m.values, marker="o", label=enc)
        ax.set_title(f"{grp}-resource languages (substitute noise, pair mode)")
        ax.set_xlabel("noise level")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("MRR (mean over languages)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.png, dpi=90)
    print(f"![MRR against substitute noise level]({args.png})")


if __name__ == "__main__":
    main()
