"""The GPU check: what a machine with one GPU runs to validate every CUDA path, in under 10 minutes.

    bench/gpu_check.sh [--device cuda:0] [--out bench/results/gpu_check] [--records 300]
    bench/gpu_check.sh --dry-run       # the same steps on the CPU at toy sizes (< 1 min; in the test suite)

Steps, each a row of the results table (``gpu_check.md`` and ``gpu_check.json`` in ``--out``):

1. ``environment``: ``cardionets info`` for the device (versions, the GPU, the backend each op takes).
2. ``gpu-tests``: ``pytest -m gpu`` (the dry run only collects them: they need CUDA).
3. ``bench:*``: attention, weighted InfoNCE forward + backward and the diffusion sampler, every
   backend side by side with its reference (``bench/harness.py``: warm-up, then CUDA events around
   each synchronised call on CUDA).
4. ``train:*``: one short epoch of each stage (pretrain-cmr, pretrain-ecg, align, finetune, train-vae,
   train-generator mar and cross) on a synthetic cohort on the device, with its mixed precision: step
   time and the op backends the run recorded.
5. ``generate``: the MAR generator end to end on the device (diffusion sampler replayed as CUDA graphs).
6. ``screen:*``: ``--records`` records screened with fp32, bf16, TensorRT and ONNX Runtime (CUDA /
   TensorRT execution providers): records/s and the largest deviation from fp32. A precision the
   machine cannot run is a ``skipped`` row with the reason.

A step that fails is a ``failed`` row with the error; the exit status is 1 when any step failed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Step:
    name: str
    status: str = "ok"  # ok | skipped | failed
    figure: str = ""
    detail: str = ""
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sizes:
    """What each step runs: the GPU sizes, or toy sizes for the dry run."""
    subjects: int
    records: int
    batch: int
    encoder: dict | None          # overrides of the tiny encoder preset (None: the preset)
    gen_models: dict[str, dict]   # generator stage -> model overrides
    attention: list[list[int]]    # [B, H, L, Dh]
    infonce: list[int]            # batch sizes
    sampler: list[str]            # extra bench_diffusion_sample arguments
    gen_steps: int
    sampling_steps: int | None
    screen_precisions: tuple[str, ...] = ("fp32", "bf16", "tensorrt", "onnx")


GPU = Sizes(subjects=64, records=300, batch=16, encoder=None, gen_models={"vae": {}, "generator": {}, "cross_decoder": {}},
            attention=[[32, 12, 37, 64], [8, 12, 384, 64], [16, 12, 181, 64]], infonce=[4096, 16384],
            sampler=["--batches", "1", "16", "--steps", "100", "--steps-batched", "100", "--repeats", "5"],
            gen_steps=16, sampling_steps=None)
DRY = Sizes(subjects=24, records=24, batch=4, encoder={"width": 32, "depth": 1, "heads": 2},
            gen_models={"vae": {"channels": [8, 16]},
                        "generator": {"width": 32, "depth": 1, "heads": 2, "head_width": 32, "head_depth": 1,
                                      "sampling_steps": 4},
                        "cross_decoder": {"seed_channels": 8, "hidden_channels": 8,
                                          "vae": {"channels": [8, 16], "res_blocks": 1, "groups": 4,
                                                  "stem": [2, 4, 4], "time_down": [False]}}},
            attention=[[2, 2, 16, 8]], infonce=[64],
            sampler=["--width", "64", "--token-dim", "16", "--cond-dim", "32", "--tokens", "4", "--batches", "1",
                     "--steps", "3", "--repeats", "1"],
            gen_steps=2, sampling_steps=3)


class Check:
    def __init__(self, device: str, out: Path, sizes: Sizes, dry: bool, echo: Callable[[str], None] = print):
        self.device, self.out, self.sizes, self.dry, self.echo = device, out, sizes, dry, echo
        self.steps: list[Step] = []
        self.runs = out / "runs"

    def run(self, name: str, fn: Callable[[Step], None]) -> Step:
        step = Step(name)
        self.echo(f"[gpu-check] {name} ...")
        t0 = time.perf_counter()
        try:
            fn(step)
        except Exception as exc:  # noqa: BLE001 -- a failed step is a row; the check goes on
            step.status, step.detail = "failed", f"{type(exc).__name__}: {exc}"
            step.data["traceback"] = traceback.format_exc()
        step.seconds = time.perf_counter() - t0
        self.steps.append(step)
        self.echo(f"[gpu-check]   {step.status} {step.figure} ({step.seconds:.1f} s) {step.detail[:300]}")
        return step

    # -- 1 ---------------------------------------------------------------------------------------
    def environment(self, step: Step) -> None:
        from cardionets.commands.info import collect

        info = collect(self.device)
        dev = info["device"]
        step.figure = f"{dev['device']} ({dev['device_name']})"
        step.detail = "; ".join(f"{op}: {b['runs']}" + (f" (autocast: {b['runs_under_autocast']})"
                                                        if "runs_under_autocast" in b else "")
                                for op, b in dev["backends"].items())
        step.data = {"info": info}
        if not self.dry and not dev["device"].startswith("cuda"):
            raise RuntimeError(f"the GPU check needs a CUDA device; --device {self.device} resolved to {dev['device']} "
                               "(use --dry-run to exercise the steps on the CPU)")

    # -- 2 ---------------------------------------------------------------------------------------
    def gpu_tests(self, step: Step) -> None:
        files = gpu_test_files()
        step.data["files"] = [str(f.relative_to(ROOT)) for f in files]
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu", *map(str, files)]
        if self.dry:
            cmd.append("--collect-only")
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
        tail = [line for line in res.stdout.strip().splitlines() if line.strip()][-1:] or [res.stderr[-300:]]
        step.figure, step.data["output"] = tail[0], res.stdout[-4000:]
        if self.dry:
            if res.returncode != 0:
                raise RuntimeError(f"collecting the gpu tests failed: {tail[0]}")
            step.status, step.detail = "skipped", "dry run: gpu tests collected, not run (they need CUDA)"
        elif res.returncode != 0:
            raise RuntimeError(f"gpu tests failed: {tail[0]}")

    # -- 3 ---------------------------------------------------------------------------------------
    def bench(self, step: Step, module: str, argv: list[str]) -> None:
        import importlib

        report = importlib.import_module(f"bench.{module}").main(
            [*argv, "--device", self.device, "--out", str(self.out / "bench"), "--threads", str(_threads())]
            + (["--no-peaks"] if self.dry else []))
        best = []
        for cmp in report.comparisons:
            rows = [r for r in cmp.rows if r.speedup_vs_reference is not None and r.provider != cmp.reference]
            if rows:
                top = max(rows, key=lambda r: r.speedup_vs_reference)
                best.append(f"{cmp.title.split(' ', 1)[1][:40]}: {top.provider} {top.speedup_vs_reference:.2f}x")
        step.figure = "; ".join(best) or "no fast backend ran"
        step.data = {"comparisons": [asdict(c) for c in report.comparisons]}

    # -- 4 ---------------------------------------------------------------------------------------
    def cohort(self) -> Path:
        from cardionets.data.synth import write_cohort

        path = self.out / "cohort"
        if not (path / "subjects.parquet").exists():
            write_cohort(path, n=self.sizes.subjects, seed=0, preset="enriched", workers=1, progress=False)
        return path

    def train_stage(self, step: Step, stage: str, **extra) -> None:
        from cardionets.train import load_config
        from cardionets.train.stages import run_stage

        over = {"cohort_dir": str(self.cohort()), "out_dir": str(self.runs / stage), "epochs": 1,
                "batch_size": self.sizes.batch, "eval_batch_size": 2 * self.sizes.batch, "progress": False,
                "device": self.device, "patience": 0, "eval_crops": 1, **extra}
        if self.sizes.encoder:
            over.update({"encoder": self.sizes.encoder, "mae": {"decoder_width": 32, "decoder_depth": 1}})
        out = run_stage(load_config(stage, "tiny", overrides=over), resume="never")
        self._train_row(step, out.fit.step_seconds, out.fit.runtime)

    def train_gen(self, step: Step, stage: str, **extra) -> None:
        from cardionets.generate.training import load_generator_config, train

        over = {"cohort_dir": str(self.cohort()), "out_dir": str(self.runs / stage), "epochs": 1,
                "batch_size": max(2, self.sizes.batch // 2), "eval_batch_size": self.sizes.batch, "progress": False,
                "device": self.device, "optim.ema_decay": 0.0, "gen.model": self.sizes.gen_models[stage], **extra}
        result, _ = train(load_generator_config(stage, "tiny", overrides=over), resume="never")
        self._train_row(step, result.step_seconds, result.runtime)

    @staticmethod
    def _train_row(step: Step, step_seconds: float, runtime: dict) -> None:
        step.figure = f"{step_seconds * 1e3:.0f} ms/step ({runtime.get('autocast') or 'fp32'})"
        step.detail = "; ".join(f"{op}: {', '.join(b)}" for op, b in runtime.get("backends", {}).items())
        step.data = {"runtime": runtime, "step_seconds": step_seconds}

    # -- 5 ---------------------------------------------------------------------------------------
    def generate(self, step: Step) -> None:
        import numpy as np

        from cardionets.data import Cohort
        from cardionets.generate.pipeline import CineGenerator, GenerationSettings
        from cardionets.ops.dispatch import count_backends

        gen = CineGenerator.from_runs(self.runs / "generator", device=self.device)
        test = Cohort(self.cohort()).datasets("ecg", seed=0, n_crops=1)["test"]
        ecg = np.stack([np.asarray(test[i]["ecg"]) for i in range(min(4, len(test)))])
        s = GenerationSettings(steps=self.sizes.gen_steps, sampling_steps=self.sizes.sampling_steps, seed=0,
                               batch_size=len(ecg))
        cond = gen.embed(ecg)
        gen.generate(cond[:1], s)  # warm-up: kernels compile, graphs are captured
        t0 = time.perf_counter()
        with count_backends() as used:
            cines = gen.generate(cond, s)
        dt = time.perf_counter() - t0  # generate() returns host arrays: the device work is finished
        step.figure = f"{dt / len(cines):.2f} s per cine ({len(cines)} cines, {s.steps} steps)"
        step.detail = "; ".join(f"{op}: {', '.join(b)}" for op, b in used.items())
        step.data = {"seconds": dt, "cines": len(cines), "backends": used}

    # -- 6 ---------------------------------------------------------------------------------------
    def records(self) -> Path:
        """``--records`` ECG files: the cohort's WFDB records hard-linked into copies."""
        src = sorted((self.cohort() / "ecg").glob("*.hea"))
        out = self.out / "records"
        k = 0
        while k * len(src) < self.sizes.records:
            d = out / f"copy{k:03d}"
            d.mkdir(parents=True, exist_ok=True)
            for h in src[: self.sizes.records - k * len(src)]:
                for f in (h, h.with_suffix(".dat")):
                    if not (d / f.name).exists():
                        os.link(f, d / f.name)
            k += 1
        return out

    def screen(self, step: Step, precision: str) -> None:
        import numpy as np
        import pyarrow.dataset as pads

        from cardionets.screen import screen

        out = self.out / f"screen_{precision}"
        shutil.rmtree(out, ignore_errors=True)
        kw: dict[str, Any] = {}
        if precision == "onnx":
            from cardionets.export.onnx import export_onnx
            from cardionets.screen import load_screen_model

            kw["onnx_path"] = export_onnx(load_screen_model(self.runs / "finetune"), self.out / "model.onnx")
        try:
            s = screen([str(self.records())], str(self.runs / "finetune"), str(out), precision=precision,
                       device=self.device, progress=False, readers=2, **kw)
        except Exception as exc:  # noqa: BLE001 -- a precision this machine lacks is a skip with its reason
            from cardionets.errors import BackendUnavailable

            if isinstance(exc, BackendUnavailable) or "needs a CUDA" in str(exc):
                step.status, step.detail = "skipped", str(exc)
                return
            raise
        table = pads.dataset(str(out / "shards")).to_table().sort_by("path")
        cols = [c for c in table.column_names if c.startswith("phenotype.")]
        vals = np.stack([table.column(c).to_numpy(zero_copy_only=False) for c in cols], 1).astype(np.float64)
        step.data = {"summary": asdict(s), "values": vals.tolist()}
        ref = next((x for x in self.steps if x.name == "screen:fp32" and x.status == "ok"), None)
        dev = ""
        if ref is not None and precision != "fp32":
            d = float(np.nanmax(np.abs(vals - np.asarray(ref.data["values"]))))
            dev = f", max |diff| vs fp32 {d:.2e}"
        step.figure = f"{s.records_per_s:.1f} records/s ({s.processed} records, {s.errors or 'no errors'}){dev}"
        step.detail = s.text()
        if precision != "fp32":
            del step.data["values"]

    # -- all -------------------------------------------------------------------------------------
    def all(self) -> list[Step]:
        z = self.sizes
        self.run("environment", self.environment)
        if self.steps[-1].status == "failed":
            return self.steps
        self.run("gpu-tests", self.gpu_tests)
        self.run("bench:attention", lambda s: self.bench(s, "bench_attention",
                                                         [a for sh in z.attention for a in ["--shapes", *map(str, sh)]]
                                                         + ["--repeats", "2" if self.dry else "20"]))
        self.run("bench:weighted_infonce", lambda s: self.bench(
            s, "bench_weighted_infonce", ["--sizes", *map(str, z.infonce), "--no-compile", "--repeats",
                                          "1" if self.dry else "10"]))
        self.run("bench:diffusion_sample", lambda s: self.bench(s, "bench_diffusion_sample", z.sampler))
        self.run("train:pretrain_cmr", lambda s: self.train_stage(s, "pretrain_cmr"))
        self.run("train:pretrain_ecg", lambda s: self.train_stage(s, "pretrain_ecg"))
        self.run("train:align", lambda s: self.train_stage(s, "align", **{
            "align.cmr_from": str(self.runs / "pretrain_cmr"), "align.ecg_init_from": str(self.runs / "pretrain_ecg")}))
        self.run("train:finetune", lambda s: self.train_stage(s, "finetune", **{
            "finetune.task": "phenotypes", "finetune.init": "cardionets", "finetune.init_from": str(self.runs / "align")}))
        self.run("train:vae", lambda s: self.train_gen(s, "vae"))
        self.run("train:generator", lambda s: self.train_gen(s, "generator", **{
            "gen.vae_from": str(self.runs / "vae"), "gen.align_from": str(self.runs / "align")}))
        self.run("train:cross_decoder", lambda s: self.train_gen(s, "cross_decoder", **{
            "gen.align_from": str(self.runs / "align")}))
        self.run("generate", self.generate)
        for prec in z.screen_precisions:
            self.run(f"screen:{prec}", lambda s, p=prec: self.screen(s, p))
        return self.steps


def gpu_test_files() -> list[Path]:
    """The test files with gpu-marked tests (collecting only these is what makes `-m gpu` quick)."""
    return [f for f in sorted((ROOT / "tests").rglob("test_*.py")) if "mark.gpu" in f.read_text(errors="replace")]


def _threads() -> int:
    return int(os.environ.get("CARDIONETS_NUM_THREADS") or os.cpu_count() or 1)


def markdown(steps: list[Step], meta: dict) -> str:
    lines = [f"# GPU check ({'dry run on ' if meta['dry_run'] else ''}{meta['device']}: {meta['device_name']})", "",
             f"{meta['date']}, host CPU {meta['cpu']}, torch {meta['torch']}, cardionets {meta['cardionets']}; "
             f"{meta['seconds']:.0f} s in total", "",
             "| step | status | figure | detail | s |", "|---|---|---|---|---:|"]
    for s in steps:
        cell = lambda t: t.replace("|", "/").replace("\n", " ")[:400]  # noqa: E731
        lines.append(f"| {s.name} | {s.status} | {cell(s.figure)} | {cell(s.detail)} | {s.seconds:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from cardionets.device.spec import add_device_argument

    ap = argparse.ArgumentParser(prog="bench/gpu_check.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_argument(ap, default=None, extra_help="default: cuda (cpu with --dry-run)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gpu_check")
    ap.add_argument("--records", type=int, help="records to screen per precision (default 300; dry run 24)")
    ap.add_argument("--dry-run", action="store_true",
                    help="every step on the CPU at toy sizes (what CI runs; GPU-only steps report why they skip)")
    args = ap.parse_args(argv)
    device = args.device or ("cpu" if args.dry_run else "cuda")
    sizes = DRY if args.dry_run else GPU
    if args.records:
        sizes.records = args.records
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    check = Check(device, args.out, sizes, args.dry_run)
    steps = check.all()
    import torch

    from cardionets import __version__, sysinfo

    env = steps[0].data.get("info", {}).get("device", {}) if steps else {}
    meta = {"device": env.get("device", device), "device_name": env.get("device_name", "?"), "dry_run": args.dry_run,
            "date": time.strftime("%Y-%m-%d %H:%M"), "cpu": sysinfo.cpu_model(), "torch": torch.__version__,
            "cardionets": __version__, "seconds": time.perf_counter() - t0}
    (args.out / "gpu_check.json").write_text(json.dumps({"meta": meta, "steps": [asdict(s) for s in steps]},
                                                        indent=1, default=str))
    md = markdown(steps, meta)
    (args.out / "gpu_check.md").write_text(md)
    print(md)
    print(f"results: {args.out / 'gpu_check.md'}")
    return 1 if any(s.status == "failed" for s in steps) else 0


if __name__ == "__main__":
    raise SystemExit(main())
