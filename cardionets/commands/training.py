"""Shared command-line plumbing of the four training commands (``cardionets pretrain-cmr`` etc.).

Not a command itself (it is not in cardionets.cli.COMMAND_MODULES). Like every command module it
imports the training library inside the functions that run a command, so ``cardionets --help``
never imports torch."""
from __future__ import annotations

import argparse
import json

from ..device.spec import PRECISIONS, add_device_argument

STAGE_HELP = {
    "pretrain_cmr": "stage 1: masked autoencoding (MAE) of the CMR encoder on cine CMR",
    "pretrain_ecg": "stage 2: ST-MEM masked pretraining of the ECG encoder",
    "align": "stage 3: align the ECG encoder to the frozen CMR encoder (phenotype-weighted InfoNCE)",
    "finetune": "stage 4: fine-tune an encoder + head for phenotypes or screening",
}

EPILOG = """Configuration: the preset cardionets/configs/{stage}_<size>.yaml, then --config FILE, then
--set key=value overrides (e.g. --set optim.lr=3e-4 --set encoder.drop_path=0.1), then the flags above.
Outputs in --out: model.safetensors + config.json (the epoch with the best validation loss),
train_log.csv / eval_log.csv, checkpoints/last/ (resumable), summary.json.
Re-running with the same --out resumes from checkpoints/last (use --restart to start over).
Device: --device auto (the default) trains on CUDA when a GPU is visible; precision auto is bf16
autocast there (fp16 + gradient scaler on GPUs without bf16) and fp32 on the CPU.
Multi-process / multi-node: torchrun --nproc_per_node N -m cardionets {cmd} ... (DDP: NCCL with one GPU
per process, cuda:LOCAL_RANK, on CUDA; gloo on CPU)."""


def add_common(p: argparse.ArgumentParser, stage: str) -> None:
    g = p.add_argument_group("common")
    g.add_argument("--cohort", metavar="DIR", help="cohort directory (written by `cardionets synth`)")
    g.add_argument("--out", metavar="DIR", help="run directory (default: the preset's out_dir)")
    g.add_argument("--size", choices=["tiny", "base"], default="tiny", help="model/recipe preset (default tiny)")
    g.add_argument("--config", metavar="YAML", help="a YAML file overriding the preset")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override one config value (repeatable), e.g. optim.lr=3e-4")
    g.add_argument("--epochs", type=int, help="number of epochs")
    g.add_argument("--batch-size", type=int, help="global batch size (split across DDP processes)")
    g.add_argument("--lr", type=float, help="peak learning rate")
    g.add_argument("--seed", type=int, help="random seed (data order, initialisation, masks)")
    add_device_argument(g, default=None, extra_help="default: the config's device, auto")
    g.add_argument("--precision", choices=list(PRECISIONS),
                   help="auto (default: bf16 autocast on CUDA, fp16 + gradient scaler on GPUs without bf16, fp32 "
                        "on CPU), fp32, bf16 (CPU or CUDA autocast) or fp16 (CUDA)")
    g.add_argument("--workers", type=int, help="data-loader worker processes")
    g.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in --out and start over")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g.add_argument("--print-config", action="store_true", help="print the resolved configuration and exit")


def build_config(args: argparse.Namespace, stage: str, extra: dict | None = None):
    from ..train.config import load_config

    over: dict = {}
    for flag, key in (("cohort", "cohort_dir"), ("out", "out_dir"), ("epochs", "epochs"), ("batch_size", "batch_size"),
                      ("seed", "seed"), ("precision", "precision"), ("workers", "num_workers"),
                      ("device", "device")):
        val = getattr(args, flag, None)
        if val is not None:
            over[key] = val
    if args.lr is not None:
        over["optim.lr"] = args.lr
    if args.no_progress:
        over["progress"] = False
    over.update({k: v for k, v in (extra or {}).items() if v is not None})
    return load_config(stage, args.size, path=args.config,
                       overrides=list(args.overrides) + [f"{k}={v}" for k, v in over.items()])


def run_stage_command(args: argparse.Namespace, stage: str, extra: dict | None = None) -> int:
    from ..train.config import save_config

    cfg = build_config(args, stage, extra)
    if args.print_config:
        import yaml

        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        return 0
    from pathlib import Path

    from ..train.stages import run_stage

    cfg.validate()
    Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
    save_config(cfg, Path(cfg.out_dir) / "train_config.yaml")
    out = run_stage(cfg, resume="never" if args.restart else "auto")
    from ..train import distributed as D

    if D.info().main:
        s = out.summary()
        print(f"{stage}: {s['status']} after {s['steps']} steps; best epoch {s['best_epoch']} "
              f"(validation loss {s['best_val_loss']:.4f}); median step {s['step_seconds'] * 1e3:.0f} ms")
        if s["test"]:
            print("test split: " + json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in s["test"].items()}))
        print(f"weights: {out.run_dir / 'model.safetensors'}  logs: {out.run_dir / 'train_log.csv'}")
    return 0
