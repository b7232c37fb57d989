"""The generator's metrics for the report: ECG -> cine for test subjects with a trained MAR run
(``--generator DIR``: the MAR run directory; its VAE and align runs are the ones it was trained
with), per-subject SSIM / PSNR / MAE / RMSE against the paired real cine
(:func:`cardionets.generate.evaluate.image_metrics`) and real-vs-generated strips."""
from __future__ import annotations

from pathlib import Path

from ..eval.results import Generation
from ..generate.evaluate import image_metrics
from ..generate.pipeline import CineGenerator, GenerationSettings
from ..generate.report import collect_split
from ..generate.writers import write_strip


def generation_results(generator_dir: str | Path, test_ds, out_dir: str | Path, *, n: int = 16, n_strips: int = 3,
                       seed: int = 0, steps: int = 16, sampling_steps: int | None = None,
                       device: str = "auto") -> Generation:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = CineGenerator.from_runs(generator_dir, device=device)
    data = collect_split(test_ds, n)
    cines = gen.generate(gen.embed(data["ecg"]), GenerationSettings(steps=steps, sampling_steps=sampling_steps,
                                                                   seed=seed, batch_size=4))
    metrics = image_metrics(cines, data["cmr"])
    strips, captions = [], []
    for i in range(min(n_strips, len(cines))):
        sid = data["subject_id"][i]
        strips.append(str(write_strip(out / f"strip_{sid}.png", [("real", data["cmr"][i]), ("generated", cines[i])])))
        captions.append(f"{sid}: real (top) vs generated from the ECG (bottom), SSIM {metrics['ssim'][i]:.3f}")
    return Generation(metrics=metrics, strips=strips, captions=captions)
