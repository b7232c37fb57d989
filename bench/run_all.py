"""Run every benchmark in bench/ once, at quick sizes by default (`make bench`).

    python -m bench.run_all [--full] [--only NAME ...] [--out DIR] [--threads 2]

Each benchmark runs in its own process, one after the other, and writes its Markdown (and JSON)
into ``--out`` (default ``bench/results/quick``; with ``--full``: ``bench/results``, the benchmarks'
own default sizes, which take hours on a 2-core machine: the screening benchmark screens 2,000
records and the million-record one a million). ``bench/results/`` is not committed: the figures
the docs quote are written into the docs with the command, machine and date that produced them.

Quick sizes (5.5 minutes in all on the shared 2-core AMD EPYC at load average 8-11, 2026-12-08;
most of it the screening benchmark):

* ``attention``: the three model shapes, 3 repeats;
* ``diffusion_sample``: 2 sampling steps at batch 1, 1 at batch 16, 1 repeat;
* ``dsp`` / ``wfdb``: ``--quick`` (100 records / reads, one repeat);
* ``weighted_infonce``: B = 4,096, 1 repeat, no ``torch.compile``;
* ``screen``: the tiny model on 100 records (baseline 8 records), 24 synthetic subjects;
* ``screen_million``: 2,000 inputs, preprocessing only, killed at half way and resumed;
* ``screen_quant``: a tiny phenotype model fine-tuned for one epoch on a 48-subject synthetic
  cohort (made here, in a temporary folder), then its test split through every precision.

The run stops at the first benchmark that fails and says which.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> (module, quick arguments); "{out}" / "{threads}" / "{work}" are filled in.
BENCHES: dict[str, tuple[str, list[str]]] = {
    "attention": ("bench.bench_attention", ["--repeats", "3"]),
    "diffusion_sample": ("bench.bench_diffusion_sample", ["--steps", "2", "--steps-batched", "1", "--repeats", "1"]),
    "dsp": ("bench.bench_dsp", ["--quick"]),
    "wfdb": ("bench.bench_wfdb", ["--quick"]),
    "weighted_infonce": ("bench.bench_weighted_infonce", ["--sizes", "4096", "--repeats", "1", "--no-compile"]),
    "screen": ("bench.bench_screen", ["--records", "100", "--base-records", "4", "--baseline-records", "8",
                                      "--subjects", "24", "--sizes", "tiny"]),
    "screen_million": ("bench.bench_screen_million", ["--records", "2000", "--subjects", "20", "--model", "none"]),
    "screen_quant": ("bench.bench_screen_quant", []),
}
OUT_FLAG = {"screen_million": "--results"}  # the others take --out


def _run(cmd: list[str], env: dict) -> None:
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def quant_run(work: Path, env: dict, threads: int) -> list[str]:
    """A small synthetic cohort and a one-epoch tiny phenotype fine-tune on it: what
    bench_screen_quant scores (its --run / --cohort)."""
    cohort, run = work / "cohort", work / "finetune"
    py = sys.executable
    _run([py, "-m", "cardionets", "synth", "--n", "48", "--preset", "enriched", "--seed", "0", "--out", str(cohort)],
         env)
    _run([py, "-m", "cardionets", "finetune", "--cohort", str(cohort), "--out", str(run), "--task", "phenotypes",
          "--init", "scratch", "--size", "tiny", "--epochs", "1", "--batch-size", "8", "--no-progress",
          "--set", "encoder.width=32", "--set", "encoder.depth=1", "--set", "encoder.heads=2"], env)
    return ["--run", str(run), "--cohort", str(cohort)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="the benchmarks' own (long) default sizes")
    ap.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="run only these benchmarks")
    ap.add_argument("--out", default=None, help="results folder (default bench/results/quick, --full: bench/results)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=None, help="work folder for screen_quant's cohort and run (default: temporary)")
    args = ap.parse_args(argv)
    out = Path(args.out or (ROOT / "bench" / "results" / ("" if args.full else "quick"))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    names = args.only or list(BENCHES)
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cardionets-bench-") as tmp:
        work = Path(args.work or tmp)
        for k, name in enumerate(names, 1):
            module, quick = BENCHES[name]
            extra = [] if args.full and name != "screen_quant" else list(quick)
            if name == "screen_quant":
                extra = quant_run(work / "quant", env, args.threads)
            if name not in ("dsp", "wfdb", "screen_million"):
                extra += ["--threads", str(args.threads)]
            print(f"== [{k}/{len(names)}] {name}", flush=True)
            t0 = time.perf_counter()
            try:
                _run([sys.executable, "-m", module, *extra, OUT_FLAG.get(name, "--out"), str(out)], env)
            except subprocess.CalledProcessError as exc:
                print(f"benchmark {name} failed (exit code {exc.returncode}); results so far are in {out}",
                      file=sys.stderr)
                return 1
            print(f"== {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"all {len(names)} benchmarks ran in {time.perf_counter() - t_all:.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
