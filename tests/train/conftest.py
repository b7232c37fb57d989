import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
# conftest sets TRITON_INTERPRET=1 on CPU; the interpreted Triton loss would dominate these tests
os.environ.setdefault("CARDIONETS_BACKEND_WEIGHTED_INFONCE", "reference")

from toy_data import MICRO, toy_splits  # noqa: E402


@pytest.fixture(scope="session")
def toy():
    return toy_splits()


def micro_cfg(stage: str, out: Path, **over):
    from cardionets.train import load_config

    base = {"encoder": dict(MICRO), "mae": {"decoder_width": 32, "decoder_depth": 1}, "epochs": 2, "batch_size": 8, "eval_batch_size": 16, "out_dir": str(out),
            "progress": False, "log_every": 1, "optim": {"warmup_epochs": 0.5}}
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            base[k] = {**base[k], **v}
        else:
            base[k] = v
    return load_config(stage, "tiny", overrides=base)


@pytest.fixture(scope="session")
def cmr_run(toy, tmp_path_factory):
    """A micro pretrain_cmr run (needed by align and cmr_ref)."""
    from cardionets.train import pretrain_cmr

    out = tmp_path_factory.mktemp("runs") / "pretrain_cmr"
    pretrain_cmr(micro_cfg("pretrain_cmr", out, epochs=1), datasets=toy)
    return out


@pytest.fixture(scope="session")
def pipeline(toy, cmr_run, tmp_path_factory):
    """Every stage and initialisation once, on micro encoders: {name: StageOutput}."""
    from cardionets.train import align, finetune, pretrain_ecg

    root = tmp_path_factory.mktemp("pipeline")
    runs = {"cmr": cmr_run}
    out = {"ssl": pretrain_ecg(micro_cfg("pretrain_ecg", root / "ssl", epochs=1), datasets=toy)}
    out["align"] = align(micro_cfg("align", root / "align", align={"cmr_from": str(cmr_run),
                                                                   "ecg_init_from": str(out["ssl"].run_dir)}),
                         datasets=toy)
    inits = {"scratch": None, "ssl": out["ssl"].run_dir, "cardionets": out["align"].run_dir, "cmr_ref": cmr_run}
    for init, src in inits.items():
        ft = {"task": "phenotypes", "init": init, "init_from": str(src) if src else None}
        out[f"ft_{init}"] = finetune(micro_cfg("finetune", root / f"ft_{init}", finetune=ft, epochs=1), datasets=toy)
    ft = {"task": "disease:CM", "init": "phen_sup", "init_from": str(out["ft_scratch"].run_dir)}
    out["ft_cm"] = finetune(micro_cfg("finetune", root / "ft_cm", finetune=ft, epochs=1), datasets=toy)
    out["ft_sub"] = finetune(micro_cfg("finetune", root / "ft_sub", finetune={"task": "cm_subtype"}, epochs=1),
                             datasets=toy)
    out["root"] = root
    out.update(runs)
    return out
