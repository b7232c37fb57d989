"""Launched by torchrun from test_ddp.py: the micro align stage on the toy cohort.

usage: ddp_runner.py OUT_DIR CMR_RUN_DIR
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("CARDIONETS_BACKEND_WEIGHTED_INFONCE", "reference")

from conftest import micro_cfg  # noqa: E402
from toy_data import toy_splits  # noqa: E402

from cardionets.train import align  # noqa: E402


def main() -> None:
    out, cmr = sys.argv[1], sys.argv[2]
    align(micro_cfg("align", Path(out), align={"cmr_from": cmr}, epochs=2), datasets=toy_splits())


if __name__ == "__main__":
    main()
