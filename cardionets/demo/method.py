"""Demo stage "method": the paper's method against the same ECG encoder trained from scratch.

cardionets = CMR masked-autoencoder pretraining -> ECG encoder aligned to the frozen CMR encoder
(phenotype-weighted InfoNCE) -> fine-tuning; scratch = the same ECG encoder and fine-tuning recipe
from a random initialisation. Two tasks: the 82 CMR phenotypes (mean R^2) and cardiomyopathy
screening (CM AUC), scored on the held-out test split with bootstrap 95% CIs and paired tests.

Pretraining and alignment use every training subject (they need no labels: cines and ECGs);
fine-tuning sees the labels of a seeded subset (``LABELLED``) of the training split. That is the
paper's label-efficiency setting, where pretraining pays most, and it keeps the demo within its
time budget. The ST-MEM ECG pretraining stage is left out: at demo length it stays on its
predict-zero plateau (docs/method.md) and would only cost time. Sizes and measured times: docs/demo.md.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
import numpy as np

from ..data.datasets import Cohort
from ..data.schema import PHENOTYPE_NAMES
from ..eval.compare import delong_test, permutation_test_r2
from ..eval.intervals import bootstrap_auc
from ..eval.regression import phenotype_metrics
from ..eval.results import PhenotypePredictions, ScorePredictions
from ..experiments.finetune_run import run_finetune
from ..experiments.runner import run_finished
from ..train.config import load_config
from ..train.stages import run_stage
from .context import DemoContext, StageResult

MODELS = ("scratch", "cardionets")
TASKS = ("phenotypes", "disease:CM")
# The demo's ECG encoder: the tiny preset's patching (12 leads x 32 tokens) at half its width and
# two of its three blocks, so a training step costs about a fifth of the tiny preset's.
ECG_ENCODER = {"width": 64, "depth": 2, "heads": 2}
# The tiny presets (configs/*_tiny.yaml) with fewer epochs; the ECG stages at twice the learning
# rate (a smaller encoder, and a few dozen steps instead of hundreds), validation on one crop.
STAGE = {"pretrain_cmr": {"epochs": 5},
         "align": {"epochs": 10, "optim.lr": 1e-3},
         "finetune": {"epochs": 10, "optim.lr": 1e-3, "eval_crops": 1}}
LABELLED = 0.5  # fraction of the training split whose labels fine-tuning sees
N_BOOT, N_PERM = 1000, 2000
QUICK = {"encoder": {"width": 32, "depth": 1, "heads": 2}, "epochs": 1, "batch_size": 8, "eval_batch_size": 32,
         "eval_crops": 1}


def _overrides(ctx: DemoContext, stage: str, run_dir: Path, cohort_dir: str) -> dict[str, Any]:
    over: dict[str, Any] = {"cohort_dir": cohort_dir, "out_dir": str(run_dir), "progress": False,
                            "seed": ctx.seed, "device": ctx.device, "patience": 0}
    if ctx.quick:
        over.update(QUICK)
        if stage == "pretrain_cmr":
            over["mae"] = {"decoder_width": 32, "decoder_depth": 1}
        else:
            over["encoder"] = dict(QUICK["encoder"])
        return over
    over.update(STAGE[stage])
    if stage != "pretrain_cmr":
        over["encoder"] = dict(ECG_ENCODER)
    if stage == "finetune":
        over["finetune.label_fraction"] = LABELLED
    return over


def _pretrain(ctx: DemoContext, runs: Path, cohort_dir: str) -> dict[str, dict]:
    """pretrain_cmr then align (from a random ECG initialisation); finished runs are reused."""
    out = {}
    for stage in ("pretrain_cmr", "align"):
        run = runs / stage
        over = _overrides(ctx, stage, run, cohort_dir)
        if stage == "align":
            over["align.cmr_from"] = str(runs / "pretrain_cmr")
        if not run_finished(run):
            ctx.say(f"      training {stage} ({over['epochs']} epochs)")
            run_stage(load_config(stage, "tiny", overrides=over))
        fit = json.loads((run / "fit.json").read_text())
        hist = fit["history"]
        out[stage] = {"epochs": fit["epochs"], "steps": fit["steps"], "best_epoch": fit["best_epoch"],
                      "val_loss_first": hist[0]["val_loss"] if hist else None,
                      "val_loss_best": fit["best_val"], "seconds": fit["seconds"],
                      "val_top1": hist[fit["best_epoch"] - 1].get("val_top1") if hist and stage == "align" else None}
    return out


def _stats(task: str, preds: dict[str, dict], scaler) -> dict[str, Any]:
    """Per model: the test metric with its bootstrap 95% CI; cardionets - scratch with a paired test."""
    if task == "phenotypes":
        yt = scaler.inverse(preds["scratch"]["test_target"])
        per = {m: phenotype_metrics(yt, scaler.inverse(p["test_pred"]), list(PHENOTYPE_NAMES), n_boot=N_BOOT,
                                    per_phenotype_ci=False)["average"] for m, p in preds.items()}
        rows = {m: {"value": _num(a["r2"]), "ci": [_num((a["r2_ci"] or {}).get("low")), _num((a["r2_ci"] or {}).get("high"))]}
                for m, a in per.items()}
        pt = permutation_test_r2(yt, scaler.inverse(preds["cardionets"]["test_pred"]),
                                 scaler.inverse(preds["scratch"]["test_pred"]), n_permutations=N_PERM)
        diff = {"difference": rows["cardionets"]["value"] - rows["scratch"]["value"], "p_value": pt.p_value,
                "test": f"paired permutation, {N_PERM} permutations"}
        return {"metric": "mean R^2 (82 phenotypes)", "models": rows, "cardionets_minus_scratch": diff}
    y = preds["scratch"]["test_target"].reshape(-1).astype(int)
    rows = {}
    for m, p in preds.items():
        iv = bootstrap_auc(y, p["test_pred"].reshape(-1), n_boot=N_BOOT)
        rows[m] = {"value": iv.estimate, "ci": [iv.low, iv.high]}
    metric = f"CM AUC ({int(y.sum())} positives of {len(y)} test subjects)"
    if len(np.unique(y)) < 2:  # e.g. the --quick cohort: no AUC without both classes
        return {"metric": metric, "models": rows, "cardionets_minus_scratch": {
            "difference": float("nan"), "p_value": float("nan"), "test": "not computable: one class in test"}}
    dl = delong_test(y, preds["cardionets"]["test_pred"].reshape(-1), preds["scratch"]["test_pred"].reshape(-1))
    diff = {"difference": dl.difference, "ci": list(dl.ci_difference), "p_value": dl.p_value, "test": "DeLong"}
    return {"metric": metric, "models": rows, "cardionets_minus_scratch": diff}


def _num(x) -> float:
    return float("nan") if x is None else float(x)


def stage_method(ctx: DemoContext) -> StageResult:
    cohort_res = ctx.needs("cohort")
    if cohort_res is None:
        return StageResult(summary="skipped: needs the cohort stage")
    cohort_dir = cohort_res.metrics["cohort_dir"]
    runs = ctx.stage_dir("method")
    pre = _pretrain(ctx, runs, cohort_dir)
    base = load_config("finetune", "tiny", overrides=_overrides(ctx, "finetune", runs / "x", cohort_dir))
    ds = Cohort(cohort_dir).datasets("ecg", seed=ctx.seed, n_crops=base.eval_crops)
    sets = (ds["train"], ds["val"], ds["test"])
    stats, preds_all, run_dirs = {}, {}, {}
    for task in TASKS:
        preds = {}
        for init in MODELS:
            name = f"finetune_{task.replace(':', '_')}_{init}"
            over = _overrides(ctx, "finetune", runs / name, cohort_dir)
            over.update({"finetune.task": task, "finetune.init": init})
            if init == "cardionets":
                over["finetune.init_from"] = str(runs / "align")
            ctx.say(f"      fine-tuning {task} from {init}")
            preds[init] = run_finetune(load_config("finetune", "tiny", overrides=over), *sets)
            run_dirs[f"{task}/{init}"] = str(runs / name)
        stats[task] = _stats(task, preds, ds["scaler"])
        preds_all[task] = preds
    ctx.artifacts["method"] = {"predictions": preds_all, "scaler": ds["scaler"], "runs": run_dirs,
                               "results": _results(preds_all, ds["scaler"])}
    n_lab = max(base.batch_size, int(round(LABELLED * len(ds["train"])))) if not ctx.quick else len(ds["train"])
    table = format_table(stats)
    (runs / "results.md").write_text(table + "\n")
    figure = comparison_figure(stats, runs / "cardionets_vs_scratch.png", n_lab, len(ds["train"]))
    (runs / "results.json").write_text(json.dumps({"pretraining": pre, "test": stats, "runs": run_dirs,
                                                   "labelled_training_subjects": n_lab}, indent=1, default=float))
    ph, cm = stats["phenotypes"]["models"], stats["disease:CM"]["models"]
    al = pre["align"]
    return StageResult(
        summary=(f"CMR MAE val loss {pre['pretrain_cmr']['val_loss_first']:.3f} -> {pre['pretrain_cmr']['val_loss_best']:.3f}, "
                 f"alignment val loss {al['val_loss_first']:.3f} -> {al['val_loss_best']:.3f}; fine-tuned on "
                 f"{n_lab} labelled of {len(ds['train'])} training subjects: mean R^2 cardionets "
                 f"{ph['cardionets']['value']:.3f} vs scratch {ph['scratch']['value']:.3f}, CM AUC "
                 f"{cm['cardionets']['value']:.3f} vs {cm['scratch']['value']:.3f} ({len(ds['test'])} test subjects)"),
        outputs=[str(runs / "results.md"), str(runs / "results.json"), str(figure)],
        metrics={"figure": str(figure), "test": stats, "pretraining": pre, "runs": run_dirs, "labelled": n_lab,
                 "n_train": len(ds["train"]), "n_test": len(ds["test"]), "table": table})


def _results(preds: dict, scaler) -> dict:
    """The predictions in the shape of :class:`cardionets.eval.results.Results` (for the report)."""
    ph = {m: PhenotypePredictions(scaler.inverse(p["test_target"]), scaler.inverse(p["test_pred"]),
                                  list(PHENOTYPE_NAMES)) for m, p in preds["phenotypes"].items()}
    cm = {}
    for m, p in preds["disease:CM"].items():
        vt = p["val_target"].reshape(-1).astype(int)
        both = len(np.unique(vt)) == 2
        cm[m] = ScorePredictions(p["test_target"].reshape(-1), p["test_pred"].reshape(-1),
                                 vt if both else None, p["val_pred"].reshape(-1) if both else None)
    return {"phenotypes": ph, "screening": {"CM": cm}}


def _ci(row: dict) -> str:
    if not np.isfinite(row["value"]):
        return "n/a"
    return f"{row['value']:.3f} ({row['ci'][0]:.3f} to {row['ci'][1]:.3f})"


def format_table(stats: dict) -> str:
    """The demo's result table (Markdown): each model's test metric with its bootstrap 95% CI, and
    the paired difference with its test."""
    lines = ["| test metric | scratch (95% CI) | cardionets (95% CI) | cardionets - scratch |", "|---|---|---|---|"]
    for st in stats.values():
        d = st["cardionets_minus_scratch"]
        ci = f", CI {d['ci'][0]:+.3f} to {d['ci'][1]:+.3f}" if "ci" in d else ""
        if not np.isfinite(d["difference"]):
            lines.append(f"| {st['metric']} | {_ci(st['models']['scratch'])} | {_ci(st['models']['cardionets'])} | "
                         f"{d['test']} |")
            continue
        lines.append(f"| {st['metric']} | {_ci(st['models']['scratch'])} | {_ci(st['models']['cardionets'])} | "
                     f"{d['difference']:+.3f}{ci}, p = {d['p_value']:.3g} ({d['test']}) |")
    return "\n".join(lines)


def comparison_figure(stats: dict, path: Path, n_labelled: int, n_train: int) -> Path:
    """Bars of each model's test metric with its bootstrap 95% CI, one panel per task."""
    fig = Figure(figsize=(4.2 * len(stats), 3.2))
    axes = fig.subplots(1, len(stats), squeeze=False)
    colors = {"scratch": "#8c8c8c", "cardionets": "#d62728"}
    for ax, st in zip(axes[0], stats.values()):
        ms = list(st["models"])
        v = np.array([st["models"][m]["value"] for m in ms], dtype=float)
        ci = np.array([st["models"][m]["ci"] for m in ms], dtype=float)
        err = np.abs(np.vstack([v - ci[:, 0], ci[:, 1] - v]))
        ax.bar(ms, v, yerr=np.nan_to_num(err), capsize=6, color=[colors.get(m, "C0") for m in ms])
        ax.set_title(st["metric"], fontsize=9)
        if "AUC" in st["metric"]:
            ax.axhline(0.5, color="black", lw=0.7, ls=":")
            ax.set_ylim(0.4, 1.0)
        else:
            ax.axhline(0.0, color="black", lw=0.7)
    fig.suptitle(f"held-out test split, fine-tuned on {n_labelled} labelled of {n_train} training subjects "
                 "(bars: 95% bootstrap CI)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path
