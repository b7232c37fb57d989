"""Demo stage "cohort": a small synthetic paired cohort (200 subjects, 16 with --quick, enriched
prevalences so training demos see every disease) plus its plots beside the real fixtures. Later
stages read ``ctx.results["cohort"].metrics["cohort_dir"]``."""
from __future__ import annotations

import time


def stage_cohort(ctx):
    from ..demo import StageResult
    from .datasets import Cohort
    from .plots import write_cohort_plots
    from .schema import DISEASES
    from .synth import write_cohort

    d = ctx.stage_dir("cohort")
    n = 16 if ctx.quick else 200
    t0 = time.perf_counter()
    cohort_dir = write_cohort(d / "cohort", n=n, seed=ctx.seed, preset="enriched", progress=False)
    gen_s = time.perf_counter() - t0
    plots = write_cohort_plots(cohort_dir, d / "report", n_subjects=1 if ctx.quick else 3)
    c = Cohort(cohort_dir)
    prev = {name: float(c.labels[:, j].mean()) for j, name in enumerate(DISEASES)}
    prev_txt = ", ".join(f"{k} {100 * v:.0f}%" for k, v in prev.items())
    return StageResult(
        summary=f"{n} synthetic subjects (ECG + 4-chamber cine + 82 phenotypes) in {gen_s:.1f} s; "
                f"label prevalence {prev_txt}",
        outputs=[str(cohort_dir)] + [str(p) for p in plots],
        metrics={"cohort_dir": str(cohort_dir), "n": n, "preset": "enriched", "seconds": gen_s,
                 "seconds_per_subject": gen_s / n, "prevalence": prev},
    )
