"""dashboard.analysis only reshapes: its numbers are core.metrics' on the same per-query values."""

import numpy as np
import pandas as pd
import pytest

from core.metrics import auc, curve_bands, holm, level_at_half, paired_difference
from dashboard import analysis


def _values() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for enc, shift in (("a", 0.0), ("b", 0.15)):
        for lang in ("xho", "deu", "amh"):
            for level in (0.0, 0.1, 0.2):
                for qid in range(30 if lang != "amh" else 8):
                    x = float(np.clip(0.9 - 2 * level - shift + rng.normal(0, 0.1), 0, 1))
                    rows.append(("c", enc, lang, level, qid, x))
    return pd.DataFrame(rows, columns=["corpus", "encoder", "lang", "level", "qid", "x"])


def test_curves_and_robustness_table_come_from_core_metrics():
    v = _values()
    curve = analysis.curves(v, {"xho": "low", "amh": "low", "deu": "high"}, n_boot=50, seed=3)
    part = v[(v.encoder == "b") & v.lang.isin(["xho", "amh"])]
    x = part.pivot_table(index=["lang", "qid"], columns="level", values="x").to_numpy()
    bands = curve_bands(x, [0, 0.1, 0.2], n_boot=50, seed=3)
    row = curve[(curve.encoder == "b") & (curve.facet == "low")].sort_values("level")
    np.testing.assert_array_equal(row["value"], bands.value)
    np.testing.assert_array_equal(row["rel_low"], bands.rel_low)
    assert row["n"].tolist() == [38, 38, 38]

    table = analysis.robustness_table(curve, "MRR").set_index(["facet", "encoder"])
    assert table.loc[("low", "b"), "AUC"] == auc(row["level"], row["value"])
    half = level_at_half(row["level"], row["value"])
    assert table.loc[("low", "b"), "half-level"] == ("never" if half == np.inf else f"{half:.3g}")
    assert table.loc[("low", "b"), "clean MRR"] == row["value"].iloc[0]


def test_pairwise_is_paired_difference_with_holm_per_level():
    v = _values()
    pw = analysis.pairwise(v, "a", "b", n_perm=500, seed=1)
    assert list(pw.columns) == ["level", "lang", "delta", "low", "high", "n", "p", "p_holm", "mark"]
    assert len(pw) == 9 and pw["low"].isna().all()  # no bootstrap unless asked
    one = pw[(pw.level == 0.1) & (pw.lang == "amh")].iloc[0]
    a = v[(v.encoder == "a") & (v.level == 0.1) & (v.lang == "amh")].sort_values("qid")["x"]
    b = v[(v.encoder == "b") & (v.level == 0.1) & (v.lang == "amh")].sort_values("qid")["x"]
    ref = paired_difference(a.to_numpy(), b.to_numpy(), n_boot=0, n_perm=500, seed=1)
    assert (one["delta"], one["n"], one["p"]) == pytest.approx((ref.delta, ref.n, ref.p))
    for _, lvl in pw.groupby("level"):
        np.testing.assert_allclose(lvl["p_holm"], holm(lvl["p"].to_numpy()))
    assert (pw["mark"] != "n.s.").all()  # a shift of 0.15 with noise 0.1 is detected in every language
    with_ci = analysis.pairwise(v, "a", "b", n_perm=500, n_boot=200, seed=1)
    assert (with_ci["low"] < with_ci["delta"]).all() and (with_ci["delta"] < with_ci["high"]).all()
    assert analysis.pairwise(v, "a", "zzz").empty
