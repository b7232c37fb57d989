"""One fine-tuning run with its validation and test predictions (and test-set encoder features).

Uses the method's training loop unchanged (:func:`cardionets.train.loop.fit` with the finetune
task); what this adds is keeping the predictions: validation (for the Youden threshold) and test,
written to ``<run>/reproduce_predictions.npz``. A run whose file exists is not touched again; a run
whose training finished (``checkpoints/last`` completed) is not retrained -- ``fit`` resumes into
the finished state and only the evaluation passes run.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..errors import CardioNetsError
from ..train.config import TrainConfig
from ..train.loop import evaluate, fit
from ..train.stages import _eval_subset, _finetune_subset
from ..train.tasks import make_task

PRED_FILE = "reproduce_predictions.npz"


def is_done(run_dir: str | Path) -> bool:
    return (Path(run_dir) / PRED_FILE).is_file()


def _predict(task, cfg: TrainConfig, ds, features: bool) -> dict[str, np.ndarray]:
    """pred / target (dataset order) and, optionally, the encoder feature [N, D] (mean over crops)."""
    captured: dict[str, torch.Tensor] = {}
    feats: list[torch.Tensor] = []
    metrics_fn = task.eval_metrics

    def keep(outputs):
        captured.update(outputs)
        return metrics_fn(outputs)

    hook = task.model.head.register_forward_hook(lambda m, inp, out: feats.append(inp[0].detach().float().cpu())) \
        if features else None
    task.eval_metrics = keep  # type: ignore[method-assign]
    try:
        evaluate(task, task.model, ds, cfg)
    finally:
        task.eval_metrics = metrics_fn  # type: ignore[method-assign]
        if hook is not None:
            hook.remove()
    out = {"pred": captured["pred"].numpy(), "target": captured["target"].numpy(), "index": captured["index"].numpy()}
    if features:
        f = torch.cat(feats)  # [N * crops, D] in loader order (single process: dataset order)
        n = len(out["pred"])
        out["feature"] = f.reshape(n, -1, f.shape[-1]).mean(1).numpy() if f.shape[0] % n == 0 else f[:n].numpy()
    return out


def run_finetune(cfg: TrainConfig, train, val, test, *, features: bool = False) -> dict[str, np.ndarray]:
    """Train (or reuse) one fine-tuning run; returns {val_pred, val_target, test_pred, test_target,
    [test_feature]} (predictions as the task gives them: probabilities, or standardised phenotypes)."""
    run = Path(cfg.out_dir)
    path = run / PRED_FILE
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    cfg.validate()
    task = make_task("finetune")
    train = _finetune_subset(cfg, train)
    val, test = _eval_subset(cfg, val), _eval_subset(cfg, test)
    for name, ds in (("training", train), ("validation", val), ("test", test)):
        if len(ds) == 0:
            raise CardioNetsError(f"{cfg.finetune.task}: no {name} subjects (none with this label, or none left by the sampling)")
    if 4 <= len(train) < cfg.batch_size:  # small label sets (subtypes, 10% fractions of small cohorts)
        cfg.batch_size = len(train) // 2  # half the set per step rather than not running at all
    res = fit(task, cfg, train, val, resume="auto")
    if res.status == "paused":
        raise CardioNetsError(f"{run}: training paused (stop_after); run reproduce again to continue")
    out: dict[str, np.ndarray] = {}
    for name, ds in (("val", val), ("test", test)):
        p = _predict(task, cfg, ds, features and name == "test")
        out.update({f"{name}_{k}": v for k, v in p.items()})
    out["n_train"] = np.asarray(len(train))
    out["batch_size"] = np.asarray(cfg.batch_size)
    tmp = run / (PRED_FILE + ".tmp.npz")
    np.savez(tmp, **out)
    os.replace(tmp, path)
    return out
