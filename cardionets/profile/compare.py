"""Per-feature distance between two profiled sets: medians, their difference and ratio, the
two-sample Kolmogorov-Smirnov statistic and the Wasserstein-1 distance (in the feature's unit, and
relative to the reference set's interquartile range)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp, wasserstein_distance

COLUMNS = ("feature", "n_a", "n_b", "median_a", "median_b", "diff", "ratio", "ks", "wasserstein", "wasserstein_iqr")


def _circular_median_deg(v: np.ndarray) -> float:
    """Median of angles (deg) unwrapped around their circular mean (axis values near +-180)."""
    mean = np.degrees(np.arctan2(np.sin(np.radians(v)).mean(), np.cos(np.radians(v)).mean()))
    return float(mean + np.median((v - mean + 180.0) % 360.0 - 180.0))


def compare_features(a: pd.DataFrame, b: pd.DataFrame, names) -> pd.DataFrame:
    """One row per feature present in both frames; ``b`` is the reference (ratios are a / b)."""
    rows = []
    for k in names:
        if k not in a.columns or k not in b.columns:
            continue
        x = a[k].to_numpy(dtype=np.float64)
        y = b[k].to_numpy(dtype=np.float64)
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        row = {"feature": k, "n_a": len(x), "n_b": len(y)}
        if len(x) and len(y):
            med = _circular_median_deg if k.endswith("_deg") else np.median
            ma, mb = float(med(x)), float(med(y))
            iqr = float(np.subtract(*np.percentile(y, [75, 25])))
            w = float(wasserstein_distance(x, y))
            row.update(median_a=ma, median_b=mb, diff=ma - mb, ratio=ma / mb if mb != 0 else np.nan,
                       ks=float(ks_2samp(x, y).statistic), wasserstein=w,
                       wasserstein_iqr=w / iqr if iqr > 0 else np.nan)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))
