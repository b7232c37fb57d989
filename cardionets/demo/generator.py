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

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ..data.datasets import Cohort  # noqa: E402
from ..device.policy import DevicePolicy  # noqa: E402
from ..dsp import preprocess_ecg  # noqa: E402
from ..fixtures import fixture_dir  # noqa: E402
from ..generate.loading import load_cross_decoder, load_embedder  # noqa: E402
from ..generate.measure import blood_pool_area  # noqa: E402
from ..generate.training import load_generator_config, train  # noqa: E402
from ..generate.writers import write_cine_outputs, write_strip  # noqa: E402
from ..io import read_ecg  # noqa: E402
from .context import DemoContext, StageResult  # noqa: E402

EPOCHS = 3
N_TEST = 64  # test subjects measured
FRAME_TOLERANCE = 3  # ED / ES within this many frames of the real cine's


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
    fig, axes = plt.subplots(1, min(4, len(real)), figsize=(12, 2.8), squeeze=False)
    for k, ax in enumerate(axes[0]):
        ax.plot(real[k] / 100.0, color="black", lw=1.2, label="real cine")
        ax.plot(gen[k] / 100.0, color="tab:red", lw=1.2, label="generated from the ECG")
        ax.set(xlabel="frame", ylabel="blood-pool area (cm^2)" if k == 0 else "", title=f"test subject {k + 1}")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def stage_generator(ctx: DemoContext) -> StageResult:
    method = ctx.needs("method")
    align = ctx.out / "method" / "align"
    if method is None or not (align / "model.safetensors").is_file():
        return StageResult(summary="skipped: needs the method stage's align run (the aligned ECG encoder)")
    d = ctx.stage_dir("generator")
    cohort_dir = ctx.results["cohort"].metrics["cohort_dir"]
    ds = Cohort(cohort_dir).datasets("paired", seed=ctx.seed, n_crops=1, cmr_cache=True)
    over = {"seed": ctx.seed, "progress": False, "cohort_dir": cohort_dir, "device": ctx.device,
            "epochs": 1 if ctx.quick else EPOCHS, "out_dir": str(d / "cross_decoder"), "gen.align_from": str(align)}
    if ctx.quick:
        over.update({"batch_size": 4, "gen.model": {"seed_channels": 8, "hidden_channels": 8}})
    fit, summ = train(load_generator_config("cross_decoder", "tiny", overrides=over), (ds["train"], ds["val"]))
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
    r, lo, hi = _pearson_ci(fac_g, fac_r)
    beating = float(np.median(fac_g)) >= 0.5 * float(np.median(fac_r))

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
    shows = (f"the generated cines contract and relax (median blood-pool area change {100 * np.median(fac_g):.0f}% "
             f"vs {100 * np.median(fac_r):.0f}% in the real cines)" if beating else
             f"the generated cines barely move (median blood-pool area change {100 * np.median(fac_g):.0f}% vs "
             f"{100 * np.median(fac_r):.0f}% real): no beating heart at this training length")
    timing = (f"ED within {FRAME_TOLERANCE} frames of the real cine's for {100 * ed_ok.mean():.0f}% and ES for "
              f"{100 * es_ok.mean():.0f}% of {n} test subjects")
    follow = (f"per-subject contraction follows the real one (r {r:.2f}, 95% CI {lo:.2f} to {hi:.2f})" if lo > 0 else
              f"the per-subject contraction does not follow the real one (r {r:.2f}, 95% CI {lo:.2f} to {hi:.2f}: "
              "a population-average beat)")
    return StageResult(
        summary=(f"cross-modal decoder trained {fit.epochs} epochs ({fit.steps} steps, val L1 {fit.best_val:.3f}); "
                 f"{shows}; {timing}; {follow}; {real_ecg.name} (a real ECG) -> cine"),
        outputs=files + [str(curves)],
        metrics={"training": summ, "n_test": n, "beating": beating, "fac_generated_median": float(np.median(fac_g)),
                 "fac_real_median": float(np.median(fac_r)), "fac_generated": fac_g.tolist(),
                 "fac_real": fac_r.tolist(), "ed_within_tolerance": float(ed_ok.mean()),
                 "es_within_tolerance": float(es_ok.mean()), "fac_pearson": [r, lo, hi],
                 "strip": files[3], "area_figure": str(curves), "gif": files[1]})
