"""Evaluation of the generator (and the cross-modal decoder baseline) on a paired split.

For every subject of the split: the aligned ECG embedding (eval crops averaged) -> generated cine
(MAR + VAE) and, when given, the baseline's cine; against the paired real cine:

* image metrics (SSIM, PSNR, MAE, RMSE) per model, mean +- SD;
* phenotype agreement: blood-pool volume indices measured on generated vs real cines (R^2, Pearson,
  MAE), plus the Pearson correlation of the generated cines' measured ED volume index with the
  ground-truth LVEDV of the cohort;
* CMR-encoder features (optional encoder run): Frechet distance, paired cosine, top-1 retrieval,
  t-SNE and histograms;
* strips: real vs generated (vs baseline) for the first ``n_strips`` subjects, and generated cines of
  the subjects with the highest vs lowest LV mass.

Writes ``metrics.json`` and ``table.md`` into ``out_dir``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .evaluate import agreement, feature_comparison, image_metrics, phenotype_agreement, summarise
from .measure import cine_phenotypes
from .pipeline import CineGenerator, GenerationSettings
from .writers import write_cine_outputs, write_strip


def collect_split(dataset, n: int | None = None) -> dict[str, Any]:
    """Real cines [N, T, H, W], ECG crops, subject ids and raw phenotypes (when the dataset has a cohort)."""
    idx = list(range(len(dataset) if n is None else min(n, len(dataset))))
    items = [dataset[i] for i in idx]
    out: dict[str, Any] = {"subject_id": [it["subject_id"] for it in items],
                           "ecg": torch.stack([torch.as_tensor(it["ecg"]) for it in items]).float(),
                           "cmr": np.stack([np.asarray(it["cmr"], dtype=np.float32) for it in items])}
    cohort = getattr(dataset, "cohort", None)
    if cohort is not None and hasattr(dataset, "indices"):
        from ..data.schema import PHENOTYPE_NAMES

        raw = np.asarray(cohort.phenotypes)[np.asarray(dataset.indices)[idx]]
        out["phenotypes"] = {name: raw[:, j] for j, name in enumerate(PHENOTYPE_NAMES)}
    return out


@torch.no_grad()
def cmr_features(encoder, cines: np.ndarray, batch: int = 8) -> np.ndarray:
    return torch.cat([encoder(torch.from_numpy(cines[i:i + batch]).float())
                      for i in range(0, len(cines), batch)]).numpy()


def evaluate_generation(gen: CineGenerator, dataset, out_dir: str | Path, *, settings: GenerationSettings | None = None,
                        cross=None, cmr_encoder=None, phenotype_model=None, phenotype_names: list[str] | None = None,
                        n: int | None = None, n_strips: int = 4, spacing: float = 1.8, progress: bool = True) -> dict:
    """``phenotype_model``: a callable cines [N, T, H, W] -> phenotypes [N, P] (e.g.
    :func:`~cardionets.generate.loading.load_cmr_phenotype_model`) applied to generated and real cines."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    s = settings or GenerationSettings()
    data = collect_split(dataset, n)
    real = data["cmr"]
    cond = gen.embed(data["ecg"])  # [N, D]
    timings: dict[str, float] = {}
    cines = {"generator": gen.generate(cond, s, timings=timings, progress=progress)}
    if cross is not None:
        with torch.no_grad():
            cines["cross_decoder"] = np.concatenate([cross(cond[i:i + 8])[:, 0].numpy()
                                                     for i in range(0, len(cond), 8)])
    result: dict[str, Any] = {"n": len(real), "settings": s.__dict__, "timings_seconds": timings, "models": {}}
    lvedv = data.get("phenotypes", {}).get("LVEDV")
    for name, c in cines.items():
        res: dict[str, Any] = {"image": summarise(image_metrics(c, real)),
                               "phenotype_agreement": phenotype_agreement(c, real, spacing, phenotype_model,
                                                                          phenotype_names)}
        model_r2 = [v["r2"] for k, v in res["phenotype_agreement"].items() if k.startswith("model:")]
        if model_r2:
            res["phenotype_model_r2_mean"] = float(np.nanmean(model_r2))
        if lvedv is not None:
            edi = [cine_phenotypes(x, spacing)["edv_index"] for x in c]
            res["edv_index_vs_true_LVEDV"] = agreement(edi, lvedv)["pearson"]
        if cmr_encoder is not None:
            res["features"] = feature_comparison(cmr_features(cmr_encoder, real), cmr_features(cmr_encoder, c),
                                                 out_dir=out, label=name)
        result["models"][name] = res
    if lvedv is not None:
        edi_real = [cine_phenotypes(x, spacing)["edv_index"] for x in real]
        result["real_edv_index_vs_true_LVEDV"] = agreement(edi_real, lvedv)["pearson"]
    # strips: real vs generated (vs baseline), one file per subject
    strips = []
    for i in range(min(n_strips, len(real))):
        rows = [("real", real[i])] + [(k, v[i]) for k, v in cines.items()]
        strips.append(str(write_strip(out / f"strip_{data['subject_id'][i]}.png", rows)))
    result["strips"] = strips
    for i in range(min(n_strips, len(real))):
        write_cine_outputs(out / "cines", f"{data['subject_id'][i]}_generated", cines["generator"][i], spacing,
                           formats=("nifti", "gif"))
    lvm = data.get("phenotypes", {}).get("LVM")
    if lvm is not None and len(real) >= 4:
        result["lv_mass"] = lv_mass_contrast(cines["generator"], real, np.asarray(lvm), data["subject_id"], out,
                                             spacing)
    (out / "metrics.json").write_text(json.dumps(result, indent=1, default=float))
    (out / "table.md").write_text(markdown_table(result))
    return result


def lv_mass_contrast(gen: np.ndarray, real: np.ndarray, lvm: np.ndarray, ids: list[str], out: Path,
                     spacing: float, k: int = 2) -> dict:
    """Generated (and real) cines of the ``k`` highest vs ``k`` lowest LV-mass subjects: a strip and the
    measured volume indices of both groups."""
    order = np.argsort(lvm)
    low, high = order[:k], order[-k:]
    rows = []
    for tag, grp in (("high", high[::-1]), ("low", low)):
        for i in grp:
            rows += [(f"{tag} LVM {lvm[i]:.0f} real", real[i]), (f"{tag} LVM {lvm[i]:.0f} gen", gen[i])]
    strip = write_strip(out / "strip_lv_mass_high_vs_low.png", rows)
    summary = {}
    for tag, grp in (("high", high), ("low", low)):
        summary[tag] = {"subjects": [ids[i] for i in grp], "LVM": [float(lvm[i]) for i in grp],
                        "generated_edv_index": float(np.mean([cine_phenotypes(gen[i], spacing)["edv_index"] for i in grp])),
                        "real_edv_index": float(np.mean([cine_phenotypes(real[i], spacing)["edv_index"] for i in grp])),
                        "generated_mean_intensity": float(np.mean(gen[grp])),
                        "real_mean_intensity": float(np.mean(real[grp]))}
    summary["strip"] = str(strip)
    return summary


def markdown_table(result: dict) -> str:
    lines = [f"Generated vs paired real cines (n = {result['n']})", "",
             "| model | SSIM | PSNR (dB) | MAE | RMSE | R^2 EDV index | R^2 ESV index | Pearson EDV index "
             "| R^2 LVEDV (model) | mean R^2 (model) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in result["models"].items():
        im, ph = r["image"], r["phenotype_agreement"]
        cell = lambda k: f"{im[k]['mean']:.4f} +- {im[k]['std']:.4f}"  # noqa: E731
        lines.append(f"| {name} | {cell('ssim')} | {im['psnr']['mean']:.2f} +- {im['psnr']['std']:.2f} | "
                     f"{cell('mae')} | {cell('rmse')} | {ph['edv_index']['r2']:.3f} | {ph['esv_index']['r2']:.3f} | "
                     f"{ph['edv_index']['pearson']:.3f} | {ph.get('model:LVEDV', {}).get('r2', float('nan')):.3f} | "
                     f"{r.get('phenotype_model_r2_mean', float('nan')):.3f} |")
    return "\n".join(lines) + "\n"
