"""Evaluation of the generator (and the cross-modal decoder baseline) on a paired split.

For every subject of the split: the aligned ECG embedding (eval crops averaged) -> generated cine
(MAR + VAE) and, when given, the baseline's cine; against the paired real cine:

* image metrics (SSIM, PSNR, MAE, RMSE) per model, mean +- SD;
* phenotype agreement: LV volumes (area-length) measured on generated vs real cines (R^2, Pearson,
  MAE), plus the Pearson correlation of the generated cines' measured ED volume index with the
  ground-truth LVEDV of the cohort;
* CMR-encoder features (optional encoder run): Frechet distance, paired cosine, top-1 retrieval,
  t-SNE and histograms;
* cardiac cycle: ED / ES frames of the generated vs the real cine (within 3 frames, cyclic) and the
  correlation of their phase curves (:func:`~.evaluate.cycle_agreement`);
* block artefacts: :func:`~.measure.blockiness` at the 4, 8 and 16-pixel grids of the decoders;
* reference (optional): the VAE's reconstruction of the real cine (the ceiling of any cine the
  generator can decode), the training split's mean cine given to every subject, the score of a model
  that knows the cohort but not the subject (a sampler of real but unpaired cines scores lower);
  and the phenotype-matched oracle pair (:mod:`.references`): a sampler and a regressor that both
  know the subject's true phenotypes;
* strips: real vs generated (vs baseline) for the first ``n_strips`` subjects, and the cines of the
  two subjects with the highest and the two with the lowest LV mass;
* LV mass contrast over the split (top vs bottom quarter of true LV mass): measured ED volume index
  and, with a phenotype model, its LVM estimate on real and on each model's cines, and whether each
  model's difference points the same way as the real cines'.

Writes ``metrics.json`` and ``table.md`` into ``out_dir``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.schema import PHENOTYPE_NAMES
from ..device.policy import DevicePolicy
from ..errors import InputError
from .evaluate import (agreement, cycle_agreement, feature_comparison, image_metrics, measured_agreement,
                       model_agreement, summarise)
from .measure import blockiness, cine_phenotypes
from .pipeline import CineGenerator, GenerationSettings, ecg_keys
from .references import phenotype_matched_cines
from .writers import write_cine_outputs, write_strip

BLOCK_PERIODS = (4, 8, 16)  # pixel grids of the decoders: 3-D VAE stem, latent cell, 3-D MAR token of 2 x 2 cells


def collect_split(dataset, n: int | None = None) -> dict[str, Any]:
    """Real cines [N, T, H, W], ECG crops, subject ids and raw phenotypes (when the dataset has a cohort)."""
    idx = list(range(len(dataset) if n is None else min(n, len(dataset))))
    items = [dataset[i] for i in idx]
    out: dict[str, Any] = {"subject_id": [it["subject_id"] for it in items],
                           "ecg": torch.stack([torch.as_tensor(it["ecg"]) for it in items]).float(),
                           "cmr": np.stack([np.asarray(it["cmr"], dtype=np.float32) for it in items])}
    cohort = getattr(dataset, "cohort", None)
    if cohort is not None and hasattr(dataset, "indices"):
        raw = np.asarray(cohort.phenotypes)[np.asarray(dataset.indices)[idx]]
        out["phenotypes"] = {name: raw[:, j] for j, name in enumerate(PHENOTYPE_NAMES)}
    return out


def mean_cine(dataset, n: int | None = 200) -> np.ndarray:
    """Mean cine [T, H, W] of the first ``n`` subjects of ``dataset`` (all when ``n`` is None)."""
    m = len(dataset) if n is None else min(n, len(dataset))
    if m == 0:
        raise InputError("mean_cine needs at least one subject")
    total = None
    for i in range(m):
        c = np.asarray(dataset[i]["cmr"], dtype=np.float64)
        total = c if total is None else total + c
    return (total / m).astype(np.float32)


@torch.no_grad()
def cmr_features(encoder, cines: np.ndarray, policy: DevicePolicy, batch: int = 8) -> np.ndarray:
    """CMR-encoder features [N, D] of cines [N, T, H, W] (the encoder on the policy's device)."""
    encoder = policy.module(encoder)
    return torch.cat([encoder(policy.to(torch.from_numpy(np.ascontiguousarray(cines[i:i + batch])).float())).cpu()
                      for i in range(0, len(cines), batch)]).numpy()


def evaluate_generation(gen: CineGenerator | None, dataset, out_dir: str | Path, *,
                        settings: GenerationSettings | list[GenerationSettings] | None = None, cross=None, cmr_encoder=None,
                        phenotype_model=None, phenotype_names: list[str] | None = None, n: int | None = None,
                        n_strips: int = 4, spacing: float = 1.8, progress: bool = True,
                        reference_cine: np.ndarray | None = None, matched_k: int = 0, train_dataset=None,
                        vae_reference: bool = False, device: str | torch.device | None = None) -> dict:
    """``settings``: one generation setting (the row ``generator``) or several (rows
    ``generator_T<temperature>_cfg<scale>``, e.g. a temperature sweep). ``phenotype_model``: a callable cines [N, T, H, W] -> phenotypes [N, P] (e.g.
    :func:`~cardionets.generate.loading.load_cmr_phenotype_model`) applied to generated and real cines.
    ``reference_cine``: one cine [T, H, W] (e.g. :func:`mean_cine` of the training split) scored as the
    row ``train_mean_cine``. ``matched_k`` > 0 (needs ``train_dataset``): the phenotype-matched oracle
    rows ``matched_real_cine`` and ``matched_mean_<k>`` (:mod:`~cardionets.generate.references`).
    ``vae_reference``: the row ``vae_reconstruction``, each real cine through the generator's VAE.
    ``gen`` may be None to score only the reference rows (then ``cross`` cannot be given: it decodes
    the generator's aligned ECG embedding). ``device``: where the cross-modal decoder and the CMR
    encoder run (default: the generator's device, or ``auto`` without a generator)."""
    if gen is None and cross is not None:
        raise InputError("the cross-modal decoder needs the generator's aligned ECG embedding: give the MAR run too")
    if gen is None and reference_cine is None and matched_k <= 0:
        raise InputError("nothing to evaluate: give a generator or a reference (mean cine / phenotype-matched)")
    if matched_k > 0 and train_dataset is None:
        raise InputError("phenotype-matched references need the training split (train_dataset)")
    policy = (DevicePolicy.create(device, "fp32") if device is not None or gen is None else gen.policy)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sweep = settings if isinstance(settings, (list, tuple)) else [settings or GenerationSettings()]
    if not sweep:
        raise InputError("no generation settings given")
    s = sweep[0]
    data = collect_split(dataset, n)
    real = data["cmr"]
    timings: dict[str, float] = {}
    cines: dict[str, np.ndarray] = {}
    if gen is not None:
        cond = gen.embed(data["ecg"])  # [N, D] or [N, tokens, D]
        keys = ecg_keys(data["ecg"])
        for st in sweep:
            name = "generator" if len(sweep) == 1 else f"generator_T{st.temperature:g}_cfg{st.cfg_scale:g}"
            cines[name] = gen.generate(cond, st, keys=keys, timings=timings, progress=progress)
    if vae_reference:
        if gen is None:
            raise InputError("the VAE reconstruction row needs the generator's VAE: give the MAR run")
        cines["vae_reconstruction"] = gen.reconstruct(real)
    if cross is not None:
        cross = policy.module(cross)
        if cond.dim() == 3:
            cond = cond[:, 0]  # the pooled aligned embedding (slot 0 of a multi-token condition)
        with torch.no_grad():
            cines["cross_decoder"] = np.concatenate([cross(policy.to(cond[i:i + 8]))[:, 0].float().cpu().numpy()
                                                     for i in range(0, len(cond), 8)])
    if reference_cine is not None:
        ref = np.asarray(reference_cine, dtype=np.float32)
        if ref.shape != real.shape[1:]:
            raise InputError(f"reference cine {ref.shape} does not match the split's cines {real.shape[1:]}")
        cines["train_mean_cine"] = np.broadcast_to(ref, real.shape)
    if matched_k > 0:
        if "phenotypes" not in data:
            raise InputError("phenotype-matched references need a cohort with ground-truth phenotypes")
        query = np.stack([data["phenotypes"][name] for name in PHENOTYPE_NAMES], axis=1)
        cines.update(phenotype_matched_cines(train_dataset, query, matched_k))
    result: dict[str, Any] = {"n": len(real), "settings": s.__dict__, "timings_seconds": timings, "models": {},
                              "sweep": [st.__dict__ for st in sweep] if len(sweep) > 1 else None,
                              "device": str(policy.device)}
    lvedv = data.get("phenotypes", {}).get("LVEDV")
    # measurements, phenotype model and CMR features run once per cine set (the real ones included);
    # the ED indices and the model's LVM also feed the LV mass contrast
    every = {"real": real, **cines}
    measured = {k: [cine_phenotypes(x, spacing) for x in v] for k, v in every.items()}
    edv_index = {k: np.array([p["edv_index"] for p in v]) for k, v in measured.items()}
    preds = {} if phenotype_model is None else {k: np.asarray(phenotype_model(v)) for k, v in every.items()}
    real_feats = cmr_features(cmr_encoder, real, policy) if cmr_encoder is not None else None
    for name, c in cines.items():
        agree = measured_agreement(measured[name], measured["real"])
        if preds:
            agree.update(model_agreement(preds[name], preds["real"], phenotype_names))
        res: dict[str, Any] = {"image": summarise(image_metrics(c, real)), "phenotype_agreement": agree,
                               "cycle": cycle_agreement(measured[name], measured["real"]),
                               "blockiness": {str(p): blockiness(c, p) for p in BLOCK_PERIODS}}
        model_r2 = [v["r2"] for k, v in res["phenotype_agreement"].items() if k.startswith("model:")]
        if model_r2:
            res["phenotype_model_r2_mean"] = float(np.nanmean(model_r2))
        if lvedv is not None:
            res["edv_index_vs_true_LVEDV"] = agreement(edv_index[name], lvedv)["pearson"]
        if cmr_encoder is not None:
            res["features"] = feature_comparison(real_feats, cmr_features(cmr_encoder, c, policy), out_dir=out,
                                                 label=name)
        result["models"][name] = res
    if lvedv is not None:
        result["real_edv_index_vs_true_LVEDV"] = agreement(edv_index["real"], lvedv)["pearson"]
    result["real_blockiness"] = {str(p): blockiness(real, p) for p in BLOCK_PERIODS}
    # strips: real vs generated (vs baseline), one file per subject
    strips = []
    for i in range(min(n_strips, len(real))):
        rows = [("real", real[i])] + [(k, v[i]) for k, v in cines.items()]
        strips.append(str(write_strip(out / f"strip_{data['subject_id'][i]}.png", rows)))
    result["strips"] = strips
    generated = [k for k in cines if k.startswith("generator")]
    for i in range(min(n_strips, len(real)) if generated else 0):
        write_cine_outputs(out / "cines", f"{data['subject_id'][i]}_generated", cines[generated[0]][i], spacing,
                           formats=("nifti", "gif"))
    lvm = data.get("phenotypes", {}).get("LVM")
    if lvm is not None and len(real) >= 4:
        names = phenotype_names or []
        predicted = {k: v[:, names.index("LVM")] for k, v in preds.items()} if preds and "LVM" in names else None
        result["lv_mass"] = lv_mass_contrast(cines, real, np.asarray(lvm), data["subject_id"], out, spacing,
                                             predicted_lvm=predicted, edv_index=edv_index)
    (out / "metrics.json").write_text(json.dumps(result, indent=1, default=float))
    (out / "table.md").write_text(markdown_table(result))
    return result


def lv_mass_contrast(cines: dict[str, np.ndarray], real: np.ndarray, lvm: np.ndarray, ids: list[str], out: Path,
                     spacing: float, predicted_lvm: dict[str, np.ndarray] | None = None, k: int = 2,
                     edv_index: dict[str, np.ndarray] | None = None) -> dict:
    """High vs low true LV mass: a strip of the ``k`` highest and ``k`` lowest LV-mass subjects (real
    and every model's cine), and over the split the top vs bottom quarter (at least ``k`` each): the
    measured ED volume index of real and generated cines, the phenotype model's LVM estimate on them
    (``predicted_lvm``: ``{"real" | model name: [N]}``), and per model whether high minus low has the
    sign of the real cines' difference (``right_direction``). ``edv_index``: the ED indices already
    measured (same keys as ``predicted_lvm``); measured here when not given."""
    order = np.argsort(lvm)
    rows = []
    for tag, grp in (("high", order[-k:][::-1]), ("low", order[:k])):
        for i in grp:
            rows.append((f"{tag} LVM {lvm[i]:.0f} real", real[i]))
            rows += [(f"{tag} LVM {lvm[i]:.0f} {name}", c[i]) for name, c in cines.items()]
    strip = write_strip(out / "strip_lv_mass_high_vs_low.png", rows)
    q = max(k, len(lvm) // 4)
    low, high = order[:q], order[-q:]
    summary: dict[str, Any] = {"strip": str(strip),
                               "strip_subjects": {"high": [ids[i] for i in order[-k:][::-1]],
                                                  "low": [ids[i] for i in order[:k]]},
                               "group_size": int(q), "true_LVM": {"high": float(lvm[high].mean()),
                                                                  "low": float(lvm[low].mean())}}
    if edv_index is None:
        edv_index = {k: np.array([cine_phenotypes(x, spacing)["edv_index"] for x in v])
                     for k, v in {"real": real, **cines}.items()}
    measures = {"edv_index": edv_index}
    if predicted_lvm is not None:
        measures["model_LVM"] = predicted_lvm
    right: dict[str, dict[str, bool]] = {name: {} for name in cines}
    for measure, vals in measures.items():
        summary[measure] = {}
        for src, v in vals.items():
            summary[measure][src] = {"high": float(v[high].mean()), "low": float(v[low].mean()),
                                     "pearson_vs_true_LVM": agreement(v, lvm)["pearson"]}
        real_sign = np.sign(summary[measure]["real"]["high"] - summary[measure]["real"]["low"])
        for name in cines:
            right[name][measure] = bool(np.sign(summary[measure][name]["high"] - summary[measure][name]["low"]) == real_sign)
    summary["right_direction"] = right
    return summary


def markdown_table(result: dict) -> str:
    """Two tables (paired image metrics; what a sample carries) and the LV mass contrast."""
    nan = float("nan")
    lines = [f"Generated vs paired real cines (n = {result['n']}); blockiness: the largest ratio at the "
             f"{'/'.join(map(str, BLOCK_PERIODS))}-pixel grids (real cines "
             f"{max(result.get('real_blockiness', {'': nan}).values()):.3f})", "",
             "| cines | SSIM | PSNR (dB) | MAE | RMSE | blockiness |", "|---|---|---|---|---|---|"]
    for name, r in result["models"].items():
        im = r["image"]
        cell = lambda k: f"{im[k]['mean']:.4f} +- {im[k]['std']:.4f}"  # noqa: E731
        block = max(r["blockiness"].values()) if r.get("blockiness") else nan
        lines.append(f"| {name} | {cell('ssim')} | {im['psnr']['mean']:.2f} +- {im['psnr']['std']:.2f} | "
                     f"{cell('mae')} | {cell('rmse')} | {block:.3f} |")
    lines += ["", "What the cines carry: the phenotype model's outputs on generated vs real cines (mean R^2 over "
                  "its outputs, how many > 0), LV measurements (Pearson r, R^2 identity), the cardiac "
                  "cycle (ED and ES within 3 frames of the real cine's, phase-curve correlation) and the Frechet "
                  "distance of CMR-encoder features", "",
              "| cines | model mean R^2 (> 0) | r SV index | r EF | r EDV index | R^2 EDV / ESV index "
              "| ED & ES within 3 | phase-curve r | Frechet |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, r in result["models"].items():
        ph, cyc = r["phenotype_agreement"], r.get("cycle", {})
        model_r2 = [v["r2"] for k, v in ph.items() if k.startswith("model:")]
        pm = (f"{r['phenotype_model_r2_mean']:.3f} ({sum(v > 0 for v in model_r2)}/{len(model_r2)})"
              if model_r2 else "-")
        fr = r.get("features", {}).get("frechet")
        lines.append(f"| {name} | {pm} | {ph['sv_index']['pearson']:.3f} | {ph['ef']['pearson']:.3f} | "
                     f"{ph['edv_index']['pearson']:.3f} | {ph['edv_index']['r2']:.2f} / {ph['esv_index']['r2']:.2f} | "
                     f"{100 * cyc.get('both_within', nan):.0f}% (ED {100 * cyc.get('ed_within', nan):.0f}%, "
                     f"ES {100 * cyc.get('es_within', nan):.0f}%) | {cyc.get('phase_curve_pearson_mean', nan):.3f} | "
                     + (f"{fr:.3f} |" if fr is not None else "- |"))
    lv = result.get("lv_mass")
    if lv is not None and "group_size" in lv:
        has_model = "model_LVM" in lv
        lines += ["", f"High vs low true LV mass (top vs bottom {lv['group_size']} subjects, true LVM "
                      f"{lv['true_LVM']['high']:.0f} vs {lv['true_LVM']['low']:.0f} g)"
                      + ("; model LVM is the phenotype model's standardised estimate" if has_model else ""), "",
                  "| cines | ED index high | ED index low | r(ED index, LVM) |"
                  + (" model LVM high | model LVM low | r(model LVM, LVM) |" if has_model else "") + " right direction |",
                  "|---|---|---|---|" + ("---|---|---|" if has_model else "") + "---|"]
        for src, e in lv["edv_index"].items():
            row = f"| {src} | {e['high']:.1f} | {e['low']:.1f} | {e['pearson_vs_true_LVM']:.3f} |"
            if has_model:
                m = lv["model_LVM"][src]
                row += f" {m['high']:.3f} | {m['low']:.3f} | {m['pearson_vs_true_LVM']:.3f} |"
            rd = lv["right_direction"].get(src)
            row += " (reference) |" if rd is None else " " + ", ".join(f"{k}: {'yes' if v else 'no'}"
                                                                        for k, v in rd.items()) + " |"
            lines.append(row)
    return "\n".join(lines) + "\n"
