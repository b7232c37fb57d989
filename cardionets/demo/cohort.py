"""Demo stage "cohort": a synthetic paired cohort (12-lead ECG + 4-chamber cine + 82 CMR phenotypes
+ diagnoses per subject; ``cardionets synth``, enriched prevalences so every disease has cases), and
figures of a few subjects beside the real fixture recordings.

The cohort is cached in ``OUT/cohort/cohort``: a rerun with the same size, seed and generator
version reuses it (the 10-minute budget is for a first run, which writes it)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from ..data.datasets import Cohort
from ..data.plots import write_cohort_plots
from ..data.schema import DISEASES
from ..data.synth import write_cohort
from ..data.synth.writer import GENERATOR_VERSION
from .context import DemoContext, StageResult

N_SUBJECTS = 1000  # 600 / 200 / 200 subjects in the seeded split (method stage: docs/demo.md)
N_QUICK = 40
PRESET = "enriched"


def _cached(cohort_dir: Path, n: int, seed: int) -> bool:
    f = cohort_dir / "cohort.json"
    if not f.is_file():
        return False
    info = json.loads(f.read_text())
    return (info.get("n"), info.get("seed"), info.get("preset"), info.get("version")) == \
        (n, seed, PRESET, GENERATOR_VERSION)


def stage_cohort(ctx: DemoContext) -> StageResult:
    d = ctx.stage_dir("cohort")
    n = N_QUICK if ctx.quick else N_SUBJECTS
    cohort_dir = d / "cohort"
    t0 = time.perf_counter()
    reused = _cached(cohort_dir, n, ctx.seed)
    if not reused:
        write_cohort(cohort_dir, n=n, seed=ctx.seed, preset=PRESET, progress=False)
    gen_s = time.perf_counter() - t0
    ctx.say("      figures of a few subjects beside the real fixtures")
    with threadpool_limits(1):  # small image resampling: a second BLAS thread only spins
        plots = write_cohort_plots(cohort_dir, d / "figures", n_subjects=1 if ctx.quick else 2)
    c = Cohort(cohort_dir)
    prev = {name: float(c.labels[:, j].mean()) for j, name in enumerate(DISEASES)}
    prev_txt = ", ".join(f"{k} {100 * v:.0f}%" for k, v in prev.items())
    how = (f"reused from {cohort_dir} (same size, seed, generator version {GENERATOR_VERSION})" if reused else
           f"synthesised in {gen_s:.0f} s ({1e3 * gen_s / n:.0f} ms per subject)")
    return StageResult(
        summary=f"{n} synthetic subjects (12-lead ECG + 4-chamber cine + 82 phenotypes + diagnoses) {how}; "
                f"label prevalence {prev_txt}",
        outputs=[str(cohort_dir)] + [str(p) for p in plots],
        metrics={"cohort_dir": str(cohort_dir), "n": n, "preset": PRESET, "seconds": gen_s, "reused": reused,
                 "seconds_per_subject": gen_s / n, "prevalence": prev, "figures": [str(p) for p in plots]},
    )
