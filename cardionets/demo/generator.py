"""Demo stage "generator": ECG -> cine CMR with the library's cross-modal decoder.

Within the demo's time share the model that gives a recognisable cine is the deterministic
cross-modal decoder (`cardionets train-generator --model cross`): the aligned ECG embedding of the
method stage decoded to a 50-frame 4-chamber cine, trained with an L1 loss against the paired real
cines. It regresses towards the conditional mean cine (smooth, no texture), so the stage reports
only what such a cine can honestly show, measured on held-out test subjects with the same tools as
any cine (``cardionets.generate.measure``): does the blood pool contract and relax (its area change
over the cycle), are end-diastole and end-systole at the real cine's frames, and does the generated
contraction follow the subject's (Pearson r with a 95% CI). Pixel scores (SSIM ...) are not printed:
on paired cines they reward the population mean, not a good sample (docs/generator.md). The MAR
sampler is not trained here (tens of minutes on 2 cores: docs/generator.md).
"""
from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure
import numpy as np
import torch

from ..data.datasets import Cohort
from ..device.policy import DevicePolicy
from ..dsp import preprocess_ecg
from ..fixtures import fixture_dir
from ..generate.loading import load_cross_decoder, load_embedder
from ..generate.measure import blood_pool_area
from ..generate.training import load_generator_config, train
from ..generate.writers import write_cine_outputs, write_strip
from ..io import read_ecg
from ..train.data import Subset
from .context import DemoContext, StageResult

N_TRAIN = 240  # training subjects the decoder sees (one epoch of 30 steps of 8: its time share)
LR = 2e-3  # twice the tiny preset's: a few dozen steps
N_TEST = 64  # test subjects measured
FRAME_TOLERANCE = 3  # ED / ES within this many frames of the real cine's
BEAT_R = 0.5  # median correlation of the generated and real blood-pool area curves to call it a beat


def _fac(area: np.ndarray) -> np.ndarray:
    """Fractional area change of the blood pool over the cycle, (max - min) / max, per cine."""
    return (area.max(1) - area.min(1)) / np.maximum(area.max(1), 1e-9)


def _pearson_ci(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Pearson r with its Fisher-z 95% CI."""
    r = float(np.corrcoef(x, y)[0, 1]) if np.std(x) > 0 and np.std(y) > 0 else 0.0
    n = len(x)
    if n < 4 or abs(r) >= 1:
        return r, float("nan"), float("nan")
    z, se = math.atanh(r), 1.0 / math.sqrt(n - 3)
    return r, math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se)


def _cyclic_gap(a: np.ndarray, b: np.ndarray, period: int) -> np.ndarray:
    d = np.abs(a - b) % period
    return np.minimum(d, period - d)


def _area_figure(real: np.ndarray, gen: np.ndarray, path: Path) -> None:
    fig = Figure(figsize=(12, 2.8))
    axes = fig.subplots(1, min(4, len(real)), squeeze=False)
    for k, ax in enumerate(axes[0]):
        ax.plot(real[k] / 100.0, color="black", lw=1.2, label="real cine")
        ax.plot(gen[k] / 100.0, color="tab:red", lw=1.2, label="generated from the ECG")
        ax.set(xlabel="frame", ylabel="blood-pool area (cm^2)" if k == 0 else "", title=f"test subject {k + 1}")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def stage_generator(ctx: DemoContext) -> StageResult:
    method = ctx.needs("method")
    align = ctx.out / "method" / "align"
    if method is None or not (align / "model.safetensors").is_file():
        return StageResult(summary="skipped: needs the method stage's align run (the aligned ECG encoder)")
    d = ctx.stage_dir("generator")
    cohort_dir = ctx.results["cohort"].metrics["cohort_dir"]
    ds = Cohort(cohort_dir).datasets("paired", seed=ctx.seed, n_crops=1, cmr_cache=True)
    over = {"seed": ctx.seed, "progress": False, "cohort_dir": cohort_dir, "device": ctx.device,
            "epochs": 1, "optim.lr": LR, "out_dir": str(d / "cross_decoder"), "gen.align_from": str(align)}
    if ctx.quick:
        over.update({"batch_size": 4, "gen.model": {"seed_channels": 8, "hidden_channels": 8}})
    n_train = min(N_TRAIN, len(ds["train"]))
    fit, summ = train(load_generator_config("cross_decoder", "tiny", overrides=over),
                      (Subset(ds["train"], list(range(n_train))), Subset(ds["val"], list(range(min(64, len(ds["val"])))))))
    policy = DevicePolicy.create(ctx.device, "fp32")
    decoder = policy.module(load_cross_decoder(d / "cross_decoder")[0].eval())
    embedder = policy.module(load_embedder(align).eval())

    test = ds["test"]
    n = min(8 if ctx.quick else N_TEST, len(test))
    real, gen = [], []
    with torch.no_grad():
        for i0 in range(0, n, 16):
            items = [test[i] for i in range(i0, min(n, i0 + 16))]
            ecg = policy.to(torch.stack([torch.as_tensor(it["ecg"]) for it in items]).float())
            gen.append(decoder(embedder(ecg))[:, 0].float().cpu().numpy())
            real += [np.asarray(it["cmr"], np.float32) for it in items]
    gen_c, real_c = np.concatenate(gen), np.stack(real)
    a_gen = np.stack([blood_pool_area(c) for c in gen_c])
    a_real = np.stack([blood_pool_area(c) for c in real_c])
    T = gen_c.shape[1]
    fac_g, fac_r = _fac(a_gen), _fac(a_real)
    ed_ok = _cyclic_gap(a_gen.argmax(1), a_real.argmax(1), T) <= FRAME_TOLERANCE
    es_ok = _cyclic_gap(a_gen.argmin(1), a_real.argmin(1), T) <= FRAME_TOLERANCE
    curve_r = np.array([_pearson_ci(g, r_)[0] for g, r_ in zip(a_gen, a_real)])  # shape of the cycle, per subject
    r, lo, hi = _pearson_ci(fac_g, fac_r)
    beating = bool(np.median(curve_r) >= BEAT_R and ed_ok.mean() >= 0.5 and es_ok.mean() >= 0.5)

    # Outputs: one test subject's cine (NIfTI, GIF, strip beside the real one), the area curves, and a
    # real fixture ECG turned into a cine.
    files = [str(p) for p in write_cine_outputs(d / "cines", "test_subject_generated", gen_c[0])]
    files.append(str(write_strip(d / "cines" / "test_subject_real_vs_generated.png",
                                 [("real", real_c[0]), ("generated", gen_c[0])])))
    curves = d / "blood_pool_area.png"
    _area_figure(a_real, a_gen, curves)
    real_ecg = sorted((fixture_dir() / "ecg" / "cinc2021").glob("*.hea"))[0]
    x = preprocess_ecg(read_ecg(real_ecg)).signal[:1]  # [1, 12, 2250]
    with torch.no_grad():
        fixture_cine = decoder(embedder(policy.to(torch.as_tensor(x[None]).float())))[0, 0].cpu().numpy()
    files += [str(p) for p in write_cine_outputs(d / "cines", f"{real_ecg.stem}_generated", fixture_cine,
                                                 formats=("nifti", "gif"))]
    cycle = (f"blood-pool area per frame vs the real cine's: median r {np.median(curve_r):.2f} over "
             f"{n} test subjects; ED within {FRAME_TOLERANCE} frames of the real cine's for {100 * ed_ok.mean():.0f}% "
             f"and ES for {100 * es_ok.mean():.0f}%")
    if beating:
        shows = (f"a beating heart: {cycle}; area change {100 * np.median(fac_g):.0f}% (real "
                 f"{100 * np.median(fac_r):.0f}%)")
        follow = (f"per-subject contraction follows the real one (r {r:.2f}, 95% CI {lo:.2f} to {hi:.2f})" if lo > 0
                  else f"but a population-average beat: per-subject contraction r {r:.2f} (95% CI {lo:.2f} to "
                       f"{hi:.2f})")
    else:
        shows = f"NO recognisable beating heart at this training length ({cycle})"
        follow = "the cine files show what the decoder makes of an ECG so far"
    return StageResult(
        summary=(f"cross-modal decoder trained {fit.steps} steps (val L1 {fit.best_val:.3f}); {shows}; {follow}; "
                 f"{real_ecg.name} (a real ECG) -> cine"),
        outputs=files + [str(curves)],
        metrics={"training": summ, "n_test": n, "beating": beating, "fac_generated_median": float(np.median(fac_g)),
                 "fac_real_median": float(np.median(fac_r)), "fac_generated": fac_g.tolist(),
                 "fac_real": fac_r.tolist(), "ed_within_tolerance": float(ed_ok.mean()),
                 "es_within_tolerance": float(es_ok.mean()), "fac_pearson": [r, lo, hi],
                 "area_curve_r_median": float(np.median(curve_r)),
                 "strip": files[3], "area_figure": str(curves), "gif": files[1]})
