"""End to end on tiny models and a tiny paired set: train-vae (latent scale stored), train the MAR and
the cross-modal decoder with the one training loop, load the runs, generate deterministically, write
outputs and evaluate."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch

FRAMES, SIZE = 10, 32
VAE = {"channels": [8, 16], "res_blocks": 1, "groups": 4, "stem": [2, 4, 4], "time_down": [False],
       "frames": FRAMES, "size": SIZE}


class PairedToy(torch.utils.data.Dataset):
    """Items with the cohort contract: a beating bright disc whose size follows a hidden 'LV volume',
    and an ECG whose amplitude encodes it."""

    def __init__(self, n: int, seed: int, crops: bool = False):
        g = np.random.default_rng(seed)
        self.size = g.uniform(5, 10, n)
        self.ecg = g.normal(0, 1, (n, 12, 2250)).astype(np.float32) * self.size[:, None, None] / 10
        self.crops = crops

    def __len__(self):
        return len(self.size)

    def __getitem__(self, i):
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]
        d = np.hypot(yy - SIZE / 2, xx - SIZE / 2)
        r = self.size[i] * (1 + 0.2 * np.cos(2 * np.pi * np.arange(FRAMES) / FRAMES))
        cine = np.where(d[None] < r[:, None, None], 0.8, -0.7).astype(np.float32)
        ecg = torch.from_numpy(self.ecg[i])
        return {"subject_id": f"S{i:03d}", "ecg": torch.stack([ecg, ecg]) if self.crops else ecg,
                "cmr": torch.from_numpy(cine), "phenotypes": torch.zeros(3), "labels": torch.zeros(4),
                "cm_subtype": torch.tensor(-1)}


@pytest.fixture(scope="module")
def align_run(tmp_path_factory):
    from cardionets.models import ECGEncoder, ProjectionHead, ecg_config
    from cardionets.train.checkpoint import save_model

    torch.manual_seed(0)
    enc = ECGEncoder(ecg_config("tiny", width=32, depth=1, heads=2))
    proj = ProjectionHead(32, 16)
    state = {f"encoder.{k}": v for k, v in enc.state_dict().items()}
    state.update({f"projector.{k}": v for k, v in proj.state_dict().items()})
    run = tmp_path_factory.mktemp("align")
    save_model(run, state, {"config": {"stage": "align", "align": {"proj_hidden": 0}}, "kind": "align",
                            "ecg_encoder": asdict(enc.cfg), "cmr_encoder": {"width": 16}})
    return run


def common(tmp, stage):
    return {"epochs": 1, "batch_size": 2, "eval_batch_size": 3, "progress": False, "out_dir": str(tmp / stage),
            "optim.ema_decay": 0.0}


def toy_cmr_encoder():
    from cardionets.models import CMREncoder, CMREncoderConfig

    torch.manual_seed(1)
    return CMREncoder(CMREncoderConfig(frames=FRAMES, image_size=SIZE, patch_size=16, width=16, depth=1, heads=2)).eval()


def cmr_phenotype_run(run):
    """A finetune-style run directory (CMR encoder + regression head) and its loaded callable."""
    from cardionets.generate.loading import load_cmr_phenotype_model
    from cardionets.models import Predictor, RegressionHead
    from cardionets.train.checkpoint import save_model

    enc = toy_cmr_encoder()
    p = Predictor(enc, RegressionHead(16, 2), "cmr", "regression")
    save_model(run, p.state_dict(), {"config": {"stage": "finetune"}, "kind": "predictor", "modality": "cmr",
                                     "head_kind": "regression", "cmr_encoder": asdict(enc.cfg), "n_outputs": 2,
                                     "phenotype_names": ["LVEDV", "LVM"]})
    return load_cmr_phenotype_model(run)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, align_run):
    from cardionets.generate.training import load_generator_config, train

    tmp = tmp_path_factory.mktemp("runs")
    data = (PairedToy(4, 0), PairedToy(3, 1, crops=True))
    cfg = load_generator_config("vae", "tiny", overrides={**common(tmp, "vae"), "gen.model": {**VAE, "arch": "3d"}})
    _, vae_summary = train(cfg, data)
    mar_model = {"width": 32, "depth": 1, "heads": 2, "head_width": 32, "head_depth": 1, "diffusion_steps": 50,
                 "sampling_steps": 4}
    cfg = load_generator_config("generator", "tiny", overrides={
        **common(tmp, "mar"), "gen.model": mar_model, "gen.vae_from": str(tmp / "vae"), "gen.align_from": str(align_run)})
    _, mar_summary = train(cfg, data)
    cross_model = {"seed_channels": 8, "hidden_channels": 8, "vae": VAE}
    cfg = load_generator_config("cross_decoder", "tiny", overrides={
        **common(tmp, "cross"), "gen.model": cross_model, "gen.align_from": str(align_run)})
    _, cross_summary = train(cfg, data)
    return tmp, vae_summary, mar_summary, cross_summary


def test_stages_train_and_store_latent_scale(runs):
    from cardionets.generate.loading import load_vae

    tmp, vae_s, mar_s, cross_s = runs
    assert all(s["status"] == "completed" and np.isfinite(s["best_val_loss"]) for s in (vae_s, mar_s, cross_s))
    vae = load_vae(tmp / "vae")
    assert float(vae.latent_scale) == pytest.approx(vae_s["latent_scale"]) and vae_s["latent_scale"] != 1.0


def test_generate_is_deterministic_and_evaluates(runs, tmp_path):
    from cardionets.generate.loading import load_cross_decoder
    from cardionets.generate.pipeline import CineGenerator, GenerationSettings, ecg_keys
    from cardionets.generate.report import evaluate_generation, mean_cine

    tmp = runs[0]
    gen = CineGenerator.from_runs(tmp / "mar")
    ds = PairedToy(4, 2, crops=True)
    cond = gen.embed(torch.stack([ds[i]["ecg"] for i in range(4)]))
    s = GenerationSettings(steps=4, seed=3, batch_size=2, sampling_steps=3, backend="cpu")
    a, b = gen.generate(cond, s), gen.generate(cond, s)
    assert a.shape == (4, FRAMES, SIZE, SIZE) and np.array_equal(a, b) and np.abs(a).max() <= 1.0
    # same seed, same ECG: the same cine whatever else is in the batch (alone, or in another order and
    # batch size), to fp32 rounding of the batched matrix products
    keys = ecg_keys(torch.stack([ds[i]["ecg"] for i in range(4)]))
    ref = gen.generate(cond, s, keys=keys)
    alone = gen.generate(cond[2:3], s, keys=keys[2:3])
    s3 = GenerationSettings(**{**s.__dict__, "batch_size": 3})
    shuffled = gen.generate(cond[[3, 2, 0]], s3, keys=[keys[3], keys[2], keys[0]])
    np.testing.assert_allclose(alone[0], ref[2], atol=1e-4)
    np.testing.assert_allclose(shuffled[1], ref[2], atol=1e-4)
    np.testing.assert_allclose(shuffled[2], ref[0], atol=1e-4)
    assert not np.allclose(ref[0], ref[1], atol=1e-3)
    s.seed = 4
    assert not np.array_equal(a[:2], gen.generate(cond[:2], s))
    cross = load_cross_decoder(tmp / "cross")[0]
    pheno, names = cmr_phenotype_run(tmp_path / "pheno")
    res = evaluate_generation(gen, ds, tmp_path, settings=GenerationSettings(steps=2, sampling_steps=2, backend="cpu"),
                              cross=cross, phenotype_model=pheno, phenotype_names=names, cmr_encoder=toy_cmr_encoder(),
                              n_strips=2, spacing=1.8, progress=False, reference_cine=mean_cine(ds, 3),
                              vae_reference=True)
    assert set(res["models"]) == {"generator", "cross_decoder", "train_mean_cine", "vae_reconstruction"}
    assert set(res["models"]["generator"]["cycle"]) >= {"both_within", "phase_curve_pearson_mean"}
    assert set(res["models"]["vae_reconstruction"]["blockiness"]) == {"4", "8", "16"}
    assert res["models"]["train_mean_cine"]["image"]["ssim"]["n"] == 4
    g = res["models"]["generator"]
    assert {"model:LVEDV", "model:LVM", "edv_index"} <= set(g["phenotype_agreement"])
    assert np.isfinite(g["phenotype_model_r2_mean"]) and set(g["features"]) >= {"frechet", "retrieval_top1"}
    table = (tmp_path / "table.md").read_text()
    assert "model mean R^2 (> 0)" in table and "| vae_reconstruction |" in table and "blockiness" in table
    assert (tmp_path / "metrics.json").exists() and (tmp_path / "table.md").exists()
    assert len(res["strips"]) == 2 and all((tmp_path / p).exists() for p in res["strips"])
    assert (tmp_path / "cines" / "S000_generated.nii.gz").exists()


def test_generate_command_on_real_ecgs(runs, tmp_path, real_data):
    import json

    import nibabel as nib

    from cardionets.cli import main

    ecgs = [str(real_data / "ecg" / "cinc2021" / f"{n}.hea") for n in ("HR06000", "JS20000", "E07500")]
    out = tmp_path / "gen"
    rc = main(["generate", *ecgs, "--model", str(runs[0] / "mar"), "--out", str(out), "--backend", "cpu",
               "--steps", "2", "--sampling-steps", "2", "--batch-size", "2", "--spacing", "1.75"])
    assert rc == 0
    report = json.loads((out / "generation.json").read_text())
    assert len(report["outputs"]) == 9 and report["seconds_per_cine"] > 0
    img = nib.load(str(out / "HR06000.nii.gz"))
    assert img.shape == (SIZE, SIZE, 1, FRAMES) and img.header.get_zooms()[0] == pytest.approx(1.75)
    assert (out / "E07500.gif").exists() and (out / "JS20000_strip.png").exists()
    # the same seed and ECG give the same cine alone or in another batch
    alone = tmp_path / "alone"
    assert main(["generate", ecgs[2], "--model", str(runs[0] / "mar"), "--out", str(alone), "--backend", "cpu",
                 "--steps", "2", "--sampling-steps", "2", "--batch-size", "1", "--spacing", "1.75", "--format", "nifti"]) == 0
    a = np.asarray(nib.load(str(out / "E07500.nii.gz")).dataobj, dtype=np.int32)
    b = np.asarray(nib.load(str(alone / "E07500.nii.gz")).dataobj, dtype=np.int32)
    assert np.abs(a - b).max() <= 1  # int16 of fp32 cines equal to rounding


def test_small_generator_api(align_run, tmp_path):
    from cardionets.generate.pipeline import ecg_keys
    from cardionets.generate.quick import generate_cines, train_small_generator
    from cardionets.errors import InputError

    data = (PairedToy(4, 0), PairedToy(3, 1, crops=True))
    gen, summaries = train_small_generator("unused", align_run, tmp_path, preset="quick", datasets=data,
                                           vae_overrides={"frames": FRAMES, "size": SIZE})
    assert set(summaries) == {"vae", "generator"} and gen.vae.cfg.arch == "2d"
    ecg = torch.stack([data[1][i]["ecg"] for i in range(3)])
    cines = generate_cines(gen, ecg, preset="quick", seed=5)
    assert cines.shape == (3, FRAMES, SIZE, SIZE) and np.abs(cines).max() <= 1.0
    again = generate_cines(gen, ecg[[2, 0]], preset="quick", seed=5)  # another batch: the same cines
    np.testing.assert_allclose(again[0], cines[2], atol=1e-4)
    assert len(set(ecg_keys(ecg))) == 3
    with pytest.raises(InputError, match="preset"):
        train_small_generator("unused", align_run, tmp_path, preset="huge")


def test_vae_presets_default_to_the_frame_stack_vae_and_name_bad_options():
    from cardionets.generate.training import load_generator_config
    from cardionets.models.vae import build_vae

    assert load_generator_config("vae", "tiny").gen.model["arch"] == "2d"
    with pytest.raises(ValueError, match="2d VAE has no option.*stem"):
        build_vae("tiny", arch="2d", stem=[2, 4, 4])


def test_generation_benchmark_runs_the_default_pipeline():
    from cardionets.generate.benchmark import measure

    r = measure("tiny", steps=2, sampling_steps=2, repeats=0)
    assert r["vae_arch"] == "2d" and r["tokens"] == 144 and r["cpu_seconds_per_cine"] > 0
