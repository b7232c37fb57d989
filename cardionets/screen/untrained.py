"""An untrained (randomly initialised) screening model in the project's run-directory format.

For tests and throughput benchmarks only: its predictions are meaningless, but it has the exact
architecture, checkpoint format (safetensors + config.json, :func:`cardionets.train.checkpoint.save_model`)
and output layout of a fine-tuned phenotype + disease model, so everything downstream of the weights
(screening, export, the C++ example) is exercised for real.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from ..data.schema import PHENOTYPE_NAMES
from ..train.tasks import DISEASE_NAMES
from ..models import ClassificationHead, ECGEncoder, Predictor, RegressionHead, ecg_config
from ..train.checkpoint import save_model


def write_untrained_model(out: str | Path, size: str = "tiny", seed: int = 0, **overrides) -> Path:
    """Write ``out/phenotypes`` and ``out/diseases`` fine-tune runs (encoder preset ``size`` with config
    ``overrides``, e.g. width=32, depth=1 for fast tests); returns ``out``."""
    out = Path(out)
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    cfg = ecg_config(size, **overrides)
    for task, kind, n, head_cls in (("phenotypes", "regression", len(PHENOTYPE_NAMES), RegressionHead),
                                    ("diseases", "multilabel", len(DISEASE_NAMES), ClassificationHead)):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))
        enc = ECGEncoder(cfg)
        pred = Predictor(enc, head_cls(enc.width, n), "ecg", kind).eval()
        info = {"kind": "predictor", "task": task, "head_kind": kind, "modality": "ecg", "init": "scratch",
                "ecg_encoder": asdict(cfg), "n_outputs": n, "diseases": list(DISEASE_NAMES),
                "config": {"stage": "finetune"}, "untrained": True}
        if task == "phenotypes":
            info["phenotype_names"] = list(PHENOTYPE_NAMES)
            info["phenotype_mean"] = [float(v) for v in rng.uniform(10, 100, n)]
            info["phenotype_std"] = [float(v) for v in rng.uniform(1, 10, n)]
        save_model(out / task, {k: v.contiguous() for k, v in pred.state_dict().items()}, info)
    return out


__all__ = ["write_untrained_model"]
