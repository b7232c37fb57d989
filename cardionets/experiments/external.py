"""External validation (``cardionets evaluate``): trained fine-tuning runs scored on a labelled
cohort they never saw -- the paper's FAHZU / SAHZU step -- with the statistics and report of
``reproduce`` (:func:`cardionets.eval.report.build_report`).

Every fine-tuning run under ``--model`` (a run directory or a folder of runs, e.g. reproduce's
``runs/``) predicts every cohort row usable for its input (ECG, or cine for ``cmr_ref`` runs;
:meth:`cardionets.data.Cohort.usable`), averaging over the same test-time crops as in training.
Models are named by their initialisation (``scratch``, ``ssl``, ``cardionets``, ...); the
reference of the comparisons is ``cardionets`` when present. Binary decision thresholds are the
Youden threshold of the run's own development validation split when reproduce saved it
(``reproduce_predictions.npz``), else 0.5 -- never tuned on the external cohort.

Nothing is dropped silently: a model output the cohort has no label for (a disease without
positives, phenotypes the cohort does not hold), a cohort label no model predicts, and rows
without a usable input are all listed in ``evaluate.json`` and the report.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..device.policy import DevicePolicy
from ..device.prefetch import DevicePrefetcher
from ..errors import CardioNetsError, InputError
from ..run_record import read_run, read_run_info
from ..api import _find_runs, _load_predictor
from ..data import CMRDataset, Cohort, ECGDataset
from ..models import probabilities
from ..train.data import collate
from ..data.schema import DISEASES, PHENOTYPE_NAMES
from ..eval.report import build_report
from ..eval.results import PhenotypePredictions, Results, ScorePredictions
from tqdm import tqdm


def _finetune_runs(path: Path) -> list[tuple[Path, dict]]:
    runs = []
    for run in _find_runs(path):
        info = read_run_info(run)
        if info.get("config", {}).get("stage") == "finetune" and (run / "model.safetensors").is_file():
            runs.append((run, info))
    if not runs:
        raise InputError(f"{path}: no fine-tuning run (config.json of stage 'finetune' + model.safetensors)")
    return runs


@torch.no_grad()
def predict_rows(run: Path, info: dict, cohort, rows: np.ndarray, batch_size: int = 16,
                 progress: bool = False, device: str | torch.device = "auto") -> np.ndarray:
    """Model outputs for cohort ``rows`` (computed on ``device``): probabilities (classification,
    averaged over crops like the fine-tuning evaluation) or phenotypes in physical units (regression)."""
    policy = DevicePolicy.create(device, "fp32")
    pred = policy.module(_load_predictor(run)[0])
    kind, modality = info["head_kind"], info["modality"]
    cls = ECGDataset if modality == "ecg" else CMRDataset
    ds = cls(cohort, rows, mode="eval", spec=read_run(run).preprocess)
    loader = DevicePrefetcher(torch.utils.data.DataLoader(ds, batch_size=batch_size, collate_fn=collate,
                                                          **policy.loader_kwargs(0)), policy)
    if progress:
        loader = tqdm(loader, desc=f"evaluate {run.name}", unit="batch")
    outs = []
    for batch in loader:
        x = batch[modality]
        if modality == "ecg" and x.dim() == 4:                      # [B, K, 12, T]: average over crops
            B, K = x.shape[:2]
            raw = pred(x.reshape(B * K, *x.shape[2:])).reshape(B, K, -1)
            outs.append((raw.mean(1) if kind == "regression" else probabilities(raw, kind).mean(1)).float().cpu())
        else:
            raw = pred(x)
            outs.append((raw if kind == "regression" else probabilities(raw, kind)).float().cpu())
    y = torch.cat(outs).numpy() if outs else np.zeros((0, int(info["n_outputs"])))
    if kind == "regression":
        mean = np.asarray(info.get("phenotype_mean", np.zeros(y.shape[1])), dtype=np.float64)
        std = np.asarray(info.get("phenotype_std", np.ones(y.shape[1])), dtype=np.float64)
        y = y * std + mean
    return y


def _dev_validation(run: Path, col: int | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    f = run / "reproduce_predictions.npz"
    if not f.is_file():
        return None, None
    with np.load(f) as z:
        if "val_pred" not in z.files:
            return None, None
        p, t = z["val_pred"], z["val_target"]
    if col is not None and p.ndim == 2 and p.shape[1] > col:
        p, t = p[:, col], t[:, col]
    p, t = p.reshape(-1), t.reshape(-1).astype(np.int64)
    return (t, p) if len(np.unique(t)) == 2 else (None, None)


def evaluate_external(model: str | Path, cohort_dir: str | Path, out: str | Path, *, n_boot: int = 1000,
                      n_perm: int = 10000, seed: int = 0, batch_size: int = 16, min_positives: int = 1,
                      progress: bool = True, device: str | torch.device = "auto",
                      echo: Callable[[str], None] = print) -> dict:
    """Score every fine-tuning run under ``model`` on ``cohort_dir`` (the models run on ``device``);
    report into ``out``."""
    t0 = time.perf_counter()
    model, cohort_dir, out = Path(model), Path(cohort_dir), Path(out)
    if not model.exists():
        raise InputError(f"{model}: no such run directory")
    runs = _finetune_runs(model)
    cohort = Cohort(cohort_dir)
    not_run: dict[str, str] = {}
    names: dict[str, str] = {}                                   # run -> display name
    taken: dict[str, set[str]] = {}
    order = ["scratch", "ssl", "phen_sup", "cardionets", "cmr_ref"]
    res = Results(models=[], meta={"model": str(model), "cohort": str(cohort_dir), "seed": seed,
                                   "external cohort rows": len(cohort)})
    predicted_diseases: set[str] = set()
    has_phen = np.isfinite(cohort.phenotypes).any(axis=0)
    thresholds: dict[str, str] = {}
    for run, info in sorted(runs, key=lambda ri: (ri[1].get("task", ""), str(ri[0]))):
        task, init, kind = info.get("task", "?"), info.get("init", "scratch"), info["head_kind"]
        section = "phenotypes" if kind == "regression" else "subtypes" if kind == "multiclass" else "screening"
        name = init if init not in taken.setdefault(section, set()) else f"{init}:{run.name}"
        taken[section].add(name)                                  # two runs of one init and task: keep both
        modality = info["modality"]
        rows = np.flatnonzero(cohort.usable(modality))
        label = f"{task}:{name}"
        if len(rows) == 0:
            not_run[label] = f"no cohort row has a usable {'ECG' if modality == 'ecg' else 'cine'}"
            continue
        if kind == "regression":
            pnames = info.get("phenotype_names") or list(PHENOTYPE_NAMES)
            cols = [PHENOTYPE_NAMES.index(p) if p in PHENOTYPE_NAMES else -1 for p in pnames]
            if not any(c >= 0 and has_phen[c] for c in cols):
                not_run[label] = "the cohort holds no value of any phenotype this model predicts"
                continue
            y = predict_rows(run, info, cohort, rows, batch_size, progress, device)
            truth = np.stack([cohort.phenotypes[rows, c] if c >= 0 else np.full(len(rows), np.nan) for c in cols], 1)
            keep = [j for j, c in enumerate(cols) if c >= 0 and has_phen[c]]
            missing = [pnames[j] for j in range(len(pnames)) if j not in keep]
            if missing:
                not_run[f"{label}:phenotypes"] = f"no value in the cohort for {len(missing)} phenotype(s): {missing[:8]}"
            res.phenotypes[name] = PhenotypePredictions(truth[:, keep], y[:, keep], [pnames[j] for j in keep])
        elif kind in ("binary", "multilabel"):
            outs = info.get("diseases", list(DISEASES)) if kind == "multilabel" else [task.split(":", 1)[1]]
            y = None
            for j, d in enumerate(outs):
                predicted_diseases.add(d)
                if d not in DISEASES:
                    not_run[f"{d}:{name}"] = f"the cohort has no {d} label (its labels: {', '.join(DISEASES)})"
                    continue
                truth = cohort.labels[rows, list(DISEASES).index(d)].astype(np.int64)
                npos = int(truth.sum())
                if npos < min_positives or npos == len(truth):
                    not_run[f"{d}:{name}"] = (f"{npos} positive of {len(truth)} usable rows: AUC undefined"
                                              if npos == 0 or npos == len(truth) else f"only {npos} positives")
                    continue
                if y is None:
                    y = predict_rows(run, info, cohort, rows, batch_size, progress, device)
                vt, vs = _dev_validation(run, j if kind == "multilabel" else None)
                thresholds[f"{d}:{name}"] = "Youden on development validation" if vt is not None else "0.5"
                res.screening.setdefault(d, {})[name] = ScorePredictions(truth, y[:, j], vt, vs)
        elif kind == "multiclass":
            sub = cohort.cm_subtype[rows]
            keep = sub >= 0
            if keep.sum() < 2 or len(np.unique(sub[keep])) < 2:
                not_run[label] = f"{int(keep.sum())} rows with a cardiomyopathy subtype: too few to evaluate"
                continue
            y = predict_rows(run, info, cohort, rows[keep], batch_size, progress, device)
            res.subtypes[name] = ScorePredictions(sub[keep], y)
        names[str(run)] = name
        echo(f"  {run.name}: {task} ({name}) on {len(rows)} rows")
    unpredicted = [d for d in DISEASES if d not in predicted_diseases and cohort.labels[:, list(DISEASES).index(d)].any()]
    for d in unpredicted:
        not_run[f"{d}:label"] = "the cohort labels it but no model under --model predicts it"
    used = set(names.values())
    res.models = [m for m in order if m in used] + sorted(m for m in used if m not in order)
    res.reference = "cardionets" if "cardionets" in used else (res.models[0] if res.models else "cardionets")
    if not (res.screening or res.phenotypes or res.subtypes):
        raise CardioNetsError("nothing to evaluate: " + "; ".join(f"{k}: {v}" for k, v in not_run.items()))
    excluded = {m: int((~cohort.usable(m)).sum()) for m in ("ecg", "cmr")}
    res.meta.update({"rows without a usable ECG": excluded["ecg"], "threshold rule": json.dumps(thresholds)})
    res.meta["why_not_run"] = {"screening": "; ".join(f"{k}: {v}" for k, v in not_run.items() if ":label" not in k)}
    files = build_report(res, out, n_boot=n_boot, n_perm=n_perm, seed=seed,
                         title="CardioNets external validation", progress=(lambda s: echo(f"  report: {s}")) if progress else None)
    table = metrics_table(files.statistics)
    (out / "metrics.md").write_text(table)
    summary = {"report": str(files.html), "results_json": str(files.json), "metrics_table": str(out / "metrics.md"),
               "models": {k: v for k, v in names.items()}, "not_evaluated": not_run, "thresholds": thresholds,
               "rows": len(cohort), "rows_without_usable_ecg": excluded["ecg"],
               "rows_without_usable_cine": excluded["cmr"], "seconds": time.perf_counter() - t0}
    (out / "evaluate.json").write_text(json.dumps(summary, indent=1, default=str))
    summary["table"] = table
    return summary


def _ci(d: dict | None, digits: int = 3) -> str:
    if not d or d.get("estimate") is None:
        return "n/a"
    if d.get("low") is None:
        return f"{d['estimate']:.{digits}f}"
    return f"{d['estimate']:.{digits}f} ({d['low']:.{digits}f}-{d['high']:.{digits}f})"


def metrics_table(st: dict[str, Any]) -> str:
    """The headline numbers with their 95% CIs as a Markdown table (from compute_statistics)."""
    lines = ["| task | model | n (pos) | AUC (95% CI) | sensitivity | specificity | threshold |",
             "|---|---|---|---|---|---|---|"]
    for task, models in st.get("screening", {}).items():
        for m, r in models.items():
            lines.append(f"| {task} | {m} | {r['n']} ({r['n_positive']}) | {_ci(r['auc'])} | {_ci(r['sensitivity'])} | "
                         f"{_ci(r['specificity'])} | {r['threshold']['value']:.3f} ({r['threshold']['rule']}) |")
    for m, r in st.get("phenotypes", {}).items():
        avg = r.get("average", {})
        lines.append(f"| phenotypes | {m} | {avg.get('n', '')} | mean R² {_ci({'estimate': avg.get('r2'), **(avg.get('r2_ci') or {})})} "
                     f"| | | |")
    for m, r in st.get("subtypes", {}).items():
        lines.append(f"| CM subtypes | {m} | {r.get('n', '')} | macro AUC {_ci(r.get('macro_auc'))} | | | |")
    return "\n".join(lines) + "\n"


__all__ = ["evaluate_external", "metrics_table", "predict_rows"]
