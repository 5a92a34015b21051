"""Print the README's FLORES-200 results from a results DB and draw their chart (docs/flores_drop.png).

    python benchmarks/readme_flores.py --db /path/to/flores.duckdb [--dataset flores200] [--png docs/flores_drop.png]

The numbers are the Findings page's for the dataset (core.findings.findings_answer: the stored answer when it
is current, else computed the same way): per language the relative MRR drop at the highest level, mean of the
noise types, with a 95% bootstrap over queries; Spearman's rho between Joshi resource class and drop across the
languages above the floor (clean MRR >= 0.3) with a 95% two-level bootstrap (languages, then queries; seed 0);
the five languages that break most and least per model; and the research answer's headline, computed on the
languages no compared model trained on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.findings import compute_and_store_findings, stored_findings  # noqa: E402
from core.languages import RESOURCE_CLASS_NAMES, load_languages  # noqa: E402
from core.research import breaking_languages, dataset_title, default_condition, headlines  # noqa: E402
from core.store import connect  # noqa: E402


def load_answer(db: str, dataset: str, mode: str = "pair"):
    """The Findings page's answer of (``dataset``, ``mode``): stored when current, else computed (and
    stored, as ``python -m precompute findings`` would)."""
    with connect(db, read_only=True) as conn:
        stored = stored_findings(conn, dataset, mode)
    if stored is not None:
        return stored[0]
    return compute_and_store_findings(db, dataset, mode)[0]


def _name(code: str, meta) -> str:
    lang = meta.get(code)
    return f"{lang.name} (`{code}`)" if lang else f"`{code}`"


def _pct(x: float) -> str:
    return "–" if pd.isna(x) else f"{100 * x:.0f}%"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--dataset", default="flores200")
    ap.add_argument("--png", default=None, help="also draw the chart here")
    args = ap.parse_args()
    answer = load_answer(args.db, args.dataset)
    b = answer.breakdown
    if b is None or b.drops.empty:
        sys.exit(f"error: no per-language breakdown for {args.dataset} in {args.db} (not multi-way data?)")
    noise, level = default_condition(b)
    meta = load_languages()
    d = b.drops[(b.drops["noise"] == noise) & np.isclose(b.drops["level"], level)]
    encoders = list(dict.fromkeys(d["encoder"]))
    title = dataset_title(args.dataset)
    print(f"### {title}: relative drop at level {level:g} ({noise} of the noise types) across languages\n")
    print(f"{d['lang'].nunique()} languages, {int(d['n'].max())} queries each.\n")
    for sentence in headlines(answer, level=level).values():
        print(f"- {sentence}")
    print()
    print("| encoder | languages above the floor | median drop | Spearman rho (class, drop) [95% CI] |")
    print("|---|---|---|---|")
    corr = b.correlations[(b.correlations["noise"] == noise) & np.isclose(b.correlations["level"], level)]
    for enc in encoders:
        part = d[(d["encoder"] == enc) & ~d["floor"]]
        c = corr[corr["encoder"] == enc]
        rho = "–" if c.empty or pd.isna(c["rho"].iloc[0]) else (
            f"{c['rho'].iloc[0]:+.2f} [{c['low'].iloc[0]:+.2f}, {c['high'].iloc[0]:+.2f}] (n = {int(c['n'].iloc[0])})"
        )  # fmt: skip
        print(
            f"| {enc} | {len(part)} of {(d['encoder'] == enc).sum()} | {_pct(part['drop'].median())} | {rho} |"
        )
    print()
    print("Median relative drop by Joshi resource class (languages above the floor; n languages):\n")
    classes = sorted(c for c in d["resource_class"].dropna().unique())
    print("| encoder | " + " | ".join(f"{int(c)} {RESOURCE_CLASS_NAMES[int(c)]}" for c in classes) + " |")
    print("|---|" + "---|" * len(classes))
    for enc in encoders:
        part = d[(d["encoder"] == enc) & ~d["floor"]]
        cells = []
        for c in classes:
            sel = part[part["resource_class"] == c]["drop"]
            cells.append(f"{_pct(sel.median())} ({len(sel)})")
        print(f"| {enc} | " + " | ".join(cells) + " |")
    print()
    ends = breaking_languages(b, noise, level, k=5)
    print(
        "The five languages that break most and least (relative drop [95% CI]; * = a training language of the model):\n"
    )
    for enc in encoders:
        for end in ("most", "least"):
            part = ends[(ends["encoder"] == enc) & (ends["end"] == end)]
            items = [
                f"{_name(r.lang, meta)}{'*' if r.seen is True else ''} {_pct(r.drop)} [{_pct(r.low)}, {_pct(r.high)}]"
                for r in part.itertuples(index=False)
            ]
            print(f"- **{enc}**, breaks {end}: " + "; ".join(items))
    if args.png:
        _chart(d, encoders, args.png, title, noise, level)


def _chart(d: pd.DataFrame, encoders: list[str], png: str, title: str, noise: str, level: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(encoders), figsize=(4.2 * len(encoders), 4), sharey=True, squeeze=False)
    rng = np.random.default_rng(0)  # jitter only: the points' positions within a class column
    for ax, enc in zip(axes[0], encoders):
        part = d[(d["encoder"] == enc) & ~d["floor"] & d["resource_class"].notna()]
        x = part["resource_class"].to_numpy(float) + rng.uniform(-0.25, 0.25, len(part))
        y = 100 * part["drop"].to_numpy()
        err = 100 * np.vstack([part["drop"] - part["low"], part["high"] - part["drop"]])
        ax.errorbar(x, y, yerr=err, fmt="o", ms=3, alpha=0.6, elinewidth=0.6)
        med = part.groupby("resource_class")["drop"].median()
        ax.hlines(100 * med.to_numpy(), med.index - 0.35, med.index + 0.35, colors="black", linewidth=2)
        ax.set_title(enc)
        ax.set_xlabel("Joshi resource class")
        ax.set_xticks(range(6))
    axes[0][0].set_ylabel(f"relative MRR drop at {level:g} ({noise}), %")
    fig.suptitle(f"{title}: one point per language (95% CI), black bar = class median")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    main()
