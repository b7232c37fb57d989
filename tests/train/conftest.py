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

    base = {"encoder": dict(MICRO), "epochs": 2, "batch_size": 8, "eval_batch_size": 16, "out_dir": str(out),
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
