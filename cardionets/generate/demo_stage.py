"""Demo stage "generator": 3D-VAE, MAR and the cross-modal decoder baseline on the demo cohort, then
ECG -> cine for the test subjects (NIfTI, GIF, strips) and the generation metrics.

Uses the align run of the "method" stage (the aligned ECG encoder). Full demo: tiny presets for a
few epochs. ``--quick``: micro models, one epoch each, 4 decoding steps and 10 diffusion steps, to
show the wiring in seconds. Either is a smoke test; the acceptance run is described in
docs/generator.md.
"""
from __future__ import annotations

from pathlib import Path


def stage_generator(ctx):
    from ..demo import StageResult
    from ..data import Cohort
    from .loading import load_cross_decoder
    from .pipeline import CineGenerator, GenerationSettings
    from .report import evaluate_generation
    from .training import load_generator_config, train

    d = ctx.stage_dir("generator")
    cohort_dir = ctx.results["cohort"].metrics["cohort_dir"]
    align = Path(ctx.out) / "method" / "align"
    if not (align / "model.safetensors").exists():
        return StageResult(summary=f"skipped: no align run at {align} (run the method stage first)")
    common = {"seed": ctx.seed, "progress": False, "cohort_dir": cohort_dir, "optim.ema_decay": 0.0,
              "device": ctx.device}
    if ctx.quick:
        common.update({"epochs": 1, "batch_size": 4, "eval_batch_size": 8})
        models = {"vae": {"channels": [8, 16]},
                  "generator": {"width": 32, "depth": 1, "heads": 2, "head_width": 32, "head_depth": 1,
                                "sampling_steps": 10},
                  "cross_decoder": {"seed_channels": 8, "hidden_channels": 8,
                                    "vae": {"channels": [8, 16], "res_blocks": 1, "groups": 4, "stem": [2, 4, 4],
                                            "time_down": [False]}}}
        epochs = {"vae": 1, "generator": 1, "cross_decoder": 1}
        settings = GenerationSettings(steps=4, sampling_steps=10, seed=ctx.seed, batch_size=4)
    else:
        models = {"vae": {}, "generator": {}, "cross_decoder": {}}
        epochs = {"vae": 3, "generator": 15, "cross_decoder": 3}
        settings = GenerationSettings(seed=ctx.seed, batch_size=4)
    summaries = {}
    datasets = None
    for stage in ("vae", "generator", "cross_decoder"):
        over = {**common, "epochs": epochs[stage], "out_dir": str(d / stage), "gen.model": models[stage]}
        if stage != "vae":
            over["gen.align_from"] = str(align)
        if stage == "generator":
            over["gen.vae_from"] = str(d / "vae")
        cfg = load_generator_config(stage, "tiny", overrides=over)
        if datasets is None:
            ds = Cohort(cohort_dir).datasets("paired", seed=ctx.seed, n_crops=cfg.eval_crops, cmr_cache=True)
            datasets = (ds["train"], ds["val"], ds["test"])
        _, summaries[stage] = train(cfg, datasets, resume="never")
    gen = CineGenerator.from_runs(d / "generator", device=ctx.device)
    cross = load_cross_decoder(d / "cross_decoder")[0]
    res = evaluate_generation(gen, datasets[2], d / "evaluation", settings=settings, cross=cross,
                              n=8 if ctx.quick else None, n_strips=2 if ctx.quick else 4, progress=False)
    g, c = res["models"]["generator"]["image"], res["models"]["cross_decoder"]["image"]
    t = res["timings_seconds"]
    per_cine = sum(t.values()) / max(res["n"], 1)
    return StageResult(
        summary=(f"VAE (latent scale {summaries['vae'].get('latent_scale', float('nan')):.3f}), MAR and cross-modal "
                 f"decoder trained; {res['n']} test cines generated ({per_cine:.2f} s each); SSIM generator "
                 f"{g['ssim']['mean']:.3f} vs baseline {c['ssim']['mean']:.3f}"),
        outputs=[str(d / "evaluation" / "table.md"), *res["strips"]],
        metrics={"training": summaries, "evaluation": {k: v for k, v in res.items() if k != "strips"}},
    )
