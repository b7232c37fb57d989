"""Demo stage "report": a small ``cardionets reproduce`` on the demo cohort, reusing the runs of the
"method" stage (same run directory, same training overrides: its pretraining, alignment and
fine-tuning runs are picked up, not retrained) and the "generator" stage's MAR run when present.

``--quick``: micro encoders, one epoch, a two-model grid (scratch vs cardionets), one ratio, two
label fractions, 200 bootstrap resamples and 500 permutations. Either is a smoke test of the
wiring; the 3,000-subject run is described in docs/reproduce.md.
"""
from __future__ import annotations

from pathlib import Path


def stage_report(ctx):
    from ..demo import StageResult
    from .grid import grid_for
    from .runner import reproduce

    if "cohort" not in ctx.results or "cohort_dir" not in ctx.results["cohort"].metrics:
        return StageResult(summary="skipped: no demo cohort (run the cohort stage first)")
    cohort = ctx.results["cohort"].metrics["cohort_dir"]
    d = ctx.stage_dir("report")
    runs = Path(ctx.out) / "method"  # the method stage's run directory: its runs are reused
    if ctx.quick:  # the method stage's quick overrides, so its runs match
        over = {"all": {"encoder": {"width": 32, "depth": 1, "heads": 2}, "epochs": 1, "batch_size": 4,
                        "eval_batch_size": 16, "log_every": 1, "seed": ctx.seed, "patience": 0, "eval_crops": 1}}
        grid = grid_for("tiny", models=("scratch", "cardionets"), ratios=(1,), ratio_models=("scratch", "cardionets"),
                        fractions=(0.5, 1.0), fraction_models=("scratch", "cardionets"), finetune_epochs=1,
                        similarity_n=8, probe_n=32, min_positives=1, overrides=over)
        n_boot, n_perm = 200, 500
    else:
        over = {"all": {"epochs": 3, "batch_size": 16, "seed": ctx.seed, "patience": 0}}
        grid = grid_for("tiny", screening="binary", diseases=("CAD", "HF", "CM"), ratios=(1, 5),
                        ratio_models=("scratch", "cardionets"), fractions=(0.25, 0.5, 1.0),
                        fraction_models=("scratch", "cardionets"), finetune_epochs=None, similarity_n=16, probe_n=100,
                        overrides=over)
        n_boot, n_perm = 1000, 2000
    gen = Path(ctx.out) / "generator" / "generator"
    gen = gen if (gen / "model.safetensors").exists() else None
    log: list[str] = []
    res = reproduce(cohort, d, "tiny", grid=grid, generator=gen, runs_dir=runs, seed=ctx.seed, n_boot=n_boot,
                    n_perm=n_perm, progress=False, device=ctx.device, echo=log.append)
    reused = sum("reused" in line for line in log)
    figs = sorted(str(p) for p in (d / "figures").glob("*.png"))
    return StageResult(
        summary=(f"report with {len([l for l in log if l.startswith('  finetune')])} fine-tuning runs "
                 f"({reused} reused from earlier runs), {len(res['not_run'])} parts not run, "
                 f"{res['total_seconds']:.0f} s: {res['report']}"),
        outputs=[res["report"], res["results_json"], *figs],
        metrics={"seconds": res["seconds"], "not_run": res["not_run"], "runs": log})
