"""Phenotype-matched reference cines: what a sampler and a regressor with the *same* knowledge score.

For every evaluated subject, the training subjects whose ground-truth phenotypes (all 82, z-scored
with the training split's statistics, missing values ignored) are nearest in Euclidean distance:

* ``matched_real_cine``: the real cine of the nearest one. An oracle *sampler*: it knows everything
  the cohort's phenotypes determine (chamber sizes, wall thickness, the volume curves) and draws
  everything else (pose, contrast, coil shading, noise, shape warps) from the population, as a
  perfect conditional generator would.
* ``matched_mean_<k>``: the voxel-wise mean of the ``k`` nearest cines. An oracle *regressor* with
  the same knowledge: an estimate of the conditional mean cine.

Scored against the paired real cines like the models, the two rows separate the paired metrics'
preference for the conditional mean (which is what an L1/L2 decoder learns) from what a sampler can
reach at all: when ``matched_mean`` beats ``matched_real`` by more than the generator trails the
cross-modal decoder, that gap is a property of the metric, not of the generator.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError


def phenotype_neighbours(train_phenotypes, query_phenotypes, k: int) -> np.ndarray:
    """Indices [N, k] of the ``k`` nearest training rows (nearest first) for every query row.

    Both inputs are raw phenotypes [M, P] / [N, P] (NaN = missing). Columns are z-scored with the
    training rows' mean and SD; a missing value on either side contributes nothing to the distance,
    and the squared distance is rescaled by P / (number of shared columns) so rows with gaps are not
    favoured."""
    tr = np.asarray(train_phenotypes, dtype=np.float64)
    q = np.asarray(query_phenotypes, dtype=np.float64)
    if tr.ndim != 2 or q.ndim != 2 or tr.shape[1] != q.shape[1]:
        raise InputError(f"phenotype arrays must be [M, P] and [N, P], got {tr.shape} and {q.shape}")
    if not 1 <= k <= len(tr):
        raise InputError(f"k must be in [1, {len(tr)}] (training subjects), got {k}")
    mu = np.nanmean(tr, axis=0)
    sd = np.nanstd(tr, axis=0)
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
    mu = np.where(np.isfinite(mu), mu, 0.0)
    zt, zq = (tr - mu) / sd, (q - mu) / sd
    mt, mq = np.isfinite(zt), np.isfinite(zq)
    zt, zq = np.where(mt, zt, 0.0), np.where(mq, zq, 0.0)
    mt, mq = mt.astype(np.float64), mq.astype(np.float64)
    # sum over shared columns of (q - t)^2 = q^2 . mt + mt' . t^2 - 2 q . t  (masked)
    d2 = (zq ** 2) @ mt.T + mq @ (zt ** 2).T - 2.0 * zq @ zt.T          # [N, M]
    shared = mq @ mt.T
    d2 = np.where(shared > 0, np.maximum(d2, 0.0) * tr.shape[1] / np.maximum(shared, 1.0), np.inf)
    order = np.argsort(d2, axis=1, kind="stable")
    return order[:, :k]


def phenotype_matched_cines(train_dataset, query_phenotypes, k: int = 16) -> dict[str, np.ndarray]:
    """``{"matched_real_cine": [N, T, H, W], f"matched_mean_{k}": [N, T, H, W]}`` for the raw
    phenotypes [N, 82] of the evaluated subjects, from the cines of ``train_dataset`` (a paired or
    CMR dataset over a cohort). Each needed training cine is read once."""
    cohort = getattr(train_dataset, "cohort", None)
    if cohort is None or not hasattr(train_dataset, "indices"):
        raise InputError("phenotype-matched references need a cohort dataset (with ground-truth phenotypes)")
    train_phen = np.asarray(cohort.phenotypes)[np.asarray(train_dataset.indices)]
    nn = phenotype_neighbours(train_phen, query_phenotypes, k)            # [N, k]
    users: dict[int, list[tuple[int, int]]] = {}                          # train row -> (query, rank)
    for i, row in enumerate(nn):
        for rank, j in enumerate(row):
            users.setdefault(int(j), []).append((i, rank))
    nearest = total = None
    for j in sorted(users):
        cine = np.asarray(train_dataset[j]["cmr"], dtype=np.float32)
        if nearest is None:   # the first cine read gives the shape
            nearest = np.zeros((len(nn),) + cine.shape, dtype=np.float32)
            total = np.zeros_like(nearest)
        for i, rank in users[j]:
            total[i] += cine
            if rank == 0:
                nearest[i] = cine
    return {"matched_real_cine": nearest, f"matched_mean_{k}": total / np.float32(k)}
