"""Evaluation: the paper's statistics and the reproducible report.

* :mod:`.intervals`     Wilson intervals, vectorised seeded bootstrap (AUC and count-based statistics)
* :mod:`.classification` screening metrics at a Youden threshold chosen on validation; multi-class OvR
* :mod:`.regression`    phenotype R^2 / Pearson r / MAE / RMSE, NaN-aware
* :mod:`.compare`       DeLong test, paired permutation tests, Cohen's d
* :mod:`.kfold`         per-fold mean +/- SD and pooled estimates
* :mod:`.interpret`     ECG-embedding vs CMR-patch-token cosine similarity maps
* :mod:`.results`       the results schema that ``cardionets reproduce`` fills
* :mod:`.statistics`    every number of the report, computed from the predictions
* :mod:`.report`        statistics + plots -> results.json, PNGs and one self-contained HTML file
See docs/evaluation.md for every definition and reference.
"""
from .classification import binary_metrics, multiclass_metrics, youden_threshold
from .compare import (cohens_d, delong_auc_cov, delong_test, permutation_test_average_precision,
                      permutation_test_balanced_accuracy)
from .interpret import patch_similarity
from .intervals import Interval, bootstrap_auc, wilson_interval
from .kfold import kfold_auc, kfold_summary
from .regression import phenotype_metrics, regression_metrics

__all__ = [
    "binary_metrics", "multiclass_metrics", "youden_threshold", "cohens_d", "delong_auc_cov", "delong_test",
    "permutation_test_average_precision", "permutation_test_balanced_accuracy", "Interval", "bootstrap_auc",
    "wilson_interval", "patch_similarity", "kfold_auc", "kfold_summary", "phenotype_metrics", "regression_metrics",
]
