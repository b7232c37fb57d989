"""Demo stage "method": all four training stages and the five baselines on the demo cohort.

Full demo: tiny presets for a few epochs on the 200-subject cohort (a couple of minutes on 2 CPU
cores). ``--quick``: micro encoders (width 32, 1 block), one epoch each, to show the wiring in
seconds. Numbers from either are a smoke test, not the paper's comparison (see docs/method.md for
the 3,000-subject acceptance run).
"""
from __future__ import annotations


def stage_method(ctx):
    from ..demo import StageResult
    from .pipeline import run_pipeline

    d = ctx.stage_dir("method")
    cohort = ctx.results["cohort"].metrics["cohort_dir"]
    if ctx.quick:
        over = {"all": {"encoder": {"width": 32, "depth": 1, "heads": 2}, "epochs": 1, "batch_size": 4,
                        "eval_batch_size": 16, "log_every": 1, "seed": ctx.seed, "patience": 0, "eval_crops": 1,
                        "mae": {"decoder_width": 32, "decoder_depth": 1}, "device": ctx.device}}
        tasks, inits = ("phenotypes",), ("scratch", "cardionets")
    else:
        over = {"all": {"epochs": 3, "batch_size": 16, "seed": ctx.seed, "patience": 0, "device": ctx.device}}
        tasks, inits = ("phenotypes", "disease:CM"), ("scratch", "ssl", "phen_sup", "cardionets", "cmr_ref")
    log: list[str] = []
    res = run_pipeline(cohort, d, size="tiny", tasks=tasks, inits=inits, overrides=over, progress=False,
                       echo=log.append)
    ph = res["test"].get("phenotypes", {})
    summary = ", ".join(f"{k} R2 {v.get('r2_mean', float('nan')):.3f}" for k, v in ph.items())
    return StageResult(summary=f"pretrain-cmr, pretrain-ecg, align + {sum(len(v) for v in res['test'].values())} fine-tuning runs in "
                               f"{res['total_seconds']:.0f} s; phenotypes: {summary}",
                       outputs=[str(d / "results.md"), str(d / "results.json")],
                       metrics={"test": res["test"], "seconds": res["seconds"], "runs": log})
