"""All four stages and all five baselines in one call (the acceptance experiment and the demo).

    python -m cardionets.train.pipeline --cohort DIR --out runs/pipeline [--size tiny] [--set stage:key=value]

Order: pretrain_cmr -> pretrain_ecg -> align (from both) -> finetune for every task x init:
``scratch``, ``ssl``, ``cardionets``, ``cmr_ref`` and, for screening tasks, ``phen_sup`` (initialised
from the phenotype-regression model trained from scratch; for the phenotype task itself phen_sup
*is* that model). Writes ``results.json`` and ``results.md`` (held-out test metrics per task and
initialisation, and the time of every run).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ..device.spec import add_device_argument
from .config import load_config
from .stages import run_stage

INITS = ("scratch", "ssl", "phen_sup", "cardionets", "cmr_ref")
MAIN_METRIC = {"phenotypes": "r2_mean", "diseases": "auc", "cm_subtype": "accuracy"}


def _metric(task: str) -> str:
    return MAIN_METRIC.get(task, "auc")


def run_pipeline(cohort_dir: str | Path, out: str | Path, *, size: str = "tiny",
                 tasks: tuple[str, ...] = ("phenotypes", "disease:CM"), inits: tuple[str, ...] = INITS,
                 overrides: dict[str, dict[str, Any]] | None = None, datasets: dict | None = None,
                 progress: bool = True, echo=print,
                 pretrain: tuple[str, ...] = ("pretrain_cmr", "pretrain_ecg", "align")) -> dict:
    """``overrides``: {stage or "all": {dotted key: value}}; ``datasets``: {modality: (train, val, test)}
    to bypass ``cohort_dir`` (tests); ``pretrain``: the pretraining runs to make (an ECG-only cohort
    has only ``pretrain_ecg``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    overrides = overrides or {}
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}  # process CPU seconds (all threads): the load-independent cost on a shared machine

    def cfg(stage: str, run: str, **extra):
        over = {"cohort_dir": str(cohort_dir), "out_dir": str(out / run), "progress": progress,
                **overrides.get("all", {}), **overrides.get(stage, {}), **extra}
        return load_config(stage, size, overrides=over)

    def go(stage: str, run: str, **extra):
        c = cfg(stage, run, **extra)
        t0, c0 = time.perf_counter(), time.process_time()
        mod = "cmr" if stage == "pretrain_cmr" or extra.get("finetune.init") == "cmr_ref" else "ecg"
        res = run_stage(c, datasets.get(mod) if datasets else None)
        timings[run] = time.perf_counter() - t0
        cpu[run] = time.process_time() - c0
        echo(f"  {run}: {res.fit.status}, best epoch {res.fit.best_epoch}, {timings[run]:.0f} s"
             + (f", test {_metric(c.finetune.task)} {res.test.get(_metric(c.finetune.task), float('nan')):.3f}"
                if res.test else ""))
        return res

    if "pretrain_cmr" in pretrain:
        go("pretrain_cmr", "pretrain_cmr")
    if "pretrain_ecg" in pretrain:
        go("pretrain_ecg", "pretrain_ecg")
    if "align" in pretrain:
        go("align", "align", **{"align.cmr_from": str(out / "pretrain_cmr"), "align.ecg_init_from": str(out / "pretrain_ecg")})
    sources = {"ssl": out / "pretrain_ecg", "cardionets": out / "align", "cmr_ref": out / "pretrain_cmr"}
    table: dict[str, dict[str, Any]] = {}
    for task in tasks:
        tname = task.replace(":", "_")
        table[task] = {}
        for init in inits:
            if init == "phen_sup" and task == "phenotypes":
                continue  # the phenotype-supervised model is the scratch phenotype model itself
            if init == "phen_sup":
                if "phenotypes/scratch" not in timings:
                    go("finetune", "finetune_phenotypes_scratch",
                       **{"finetune.task": "phenotypes", "finetune.init": "scratch"})
                src = out / "finetune_phenotypes_scratch"
            else:
                src = sources.get(init)
            extra = {"finetune.task": task, "finetune.init": init}
            if init != "scratch":
                extra["finetune.init_from"] = str(src)
            run = f"finetune_{tname}_{init}"
            if run in timings:
                res_test = json.loads((out / run / "test_metrics.json").read_text())
            else:
                res_test = go("finetune", run, **extra).test
            table[task][init] = res_test
            if task == "phenotypes" and init == "scratch":
                timings["phenotypes/scratch"] = 0.0
    timings.pop("phenotypes/scratch", None)
    result = {"size": size, "cohort": str(cohort_dir), "tasks": list(tasks), "test": table, "seconds": timings,
              "total_seconds": sum(timings.values()), "cpu_seconds": cpu, "total_cpu_seconds": sum(cpu.values())}
    (out / "results.json").write_text(json.dumps(result, indent=1))
    (out / "results.md").write_text(format_table(result))
    return result


def format_table(result: dict) -> str:
    lines = [f"# Held-out test metrics ({result['size']} presets)", ""]
    for task, rows in result["test"].items():
        m = _metric(task)
        lines += [f"## {task} ({m})", "", "| init | " + m + " | test loss |", "|---|---|---|"]
        for init, met in rows.items():
            lines.append(f"| {init} | {met.get(m, float('nan')):.4f} | {met.get('test_loss', float('nan')):.4f} |")
        lines.append("")
    cpu = result.get("cpu_seconds", {})
    lines += ["## time per run (wall s, process CPU s)", ""]
    lines += [f"- {k}: {v:.0f}" + (f" (CPU {cpu[k]:.0f})" if k in cpu else "") for k, v in result["seconds"].items()]
    lines.append(f"- total: {result['total_seconds']:.0f}"
                 + (f" (CPU {result['total_cpu_seconds']:.0f})" if "total_cpu_seconds" in result else ""))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cardionets.train.pipeline", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cohort", required=True, help="cohort directory (cardionets synth)")
    p.add_argument("--out", required=True, help="output directory (one run directory per stage/baseline)")
    p.add_argument("--size", default="tiny", choices=["tiny", "base"])
    p.add_argument("--tasks", default="phenotypes,disease:CM", help="comma-separated finetune tasks")
    p.add_argument("--inits", default=",".join(INITS), help="comma-separated initialisations")
    p.add_argument("--set", action="append", default=[], metavar="STAGE:KEY=VALUE",
                   help="override for one stage (or all:KEY=VALUE), e.g. align:epochs=20")
    p.add_argument("--no-progress", action="store_true")
    add_device_argument(p)
    a = p.parse_args(argv)
    over: dict[str, dict[str, str]] = {}
    for s in a.set:
        stage, kv = s.split(":", 1) if ":" in s.split("=", 1)[0] else ("all", s)
        k, v = kv.split("=", 1)
        over.setdefault(stage, {})[k] = v
    over.setdefault("all", {}).setdefault("device", a.device)
    res = run_pipeline(a.cohort, a.out, size=a.size, tasks=tuple(a.tasks.split(",")), inits=tuple(a.inits.split(",")),
                       overrides=over, progress=not a.no_progress)
    print(format_table(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
