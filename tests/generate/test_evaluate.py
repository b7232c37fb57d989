"""Generation metrics against scikit-image / numpy directly on known inputs."""
from __future__ import annotations

import numpy as np
import pytest

from cardionets.generate.evaluate import agreement, feature_comparison, image_metrics, phenotype_agreement, summarise


def test_image_metrics_match_direct_computation():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    g = np.random.default_rng(0)
    real = g.uniform(-1, 1, (2, 3, 24, 24))
    gen = np.clip(real + g.normal(0, 0.2, real.shape), -1, 1)
    m = image_metrics(gen, real)
    for i in range(2):
        ssim = np.mean([structural_similarity(real[i, t], gen[i, t], data_range=2.0, gaussian_weights=True, sigma=1.5,
                                              use_sample_covariance=False) for t in range(3)])
        assert m["ssim"][i] == pytest.approx(ssim)
        assert m["psnr"][i] == pytest.approx(peak_signal_noise_ratio(real[i], gen[i], data_range=2.0))
        assert m["mae"][i] == pytest.approx(np.abs(gen[i] - real[i]).mean())
        assert m["rmse"][i] == pytest.approx(np.sqrt(((gen[i] - real[i]) ** 2).mean()))
    # known values: identical cines; a constant offset of 0.5 -> MAE = RMSE = 0.5, PSNR = 20 log10(2 / 0.5)
    same = image_metrics(real, real)
    assert np.allclose(same["ssim"], 1.0) and np.allclose(same["mae"], 0.0)
    flat = np.zeros((1, 2, 16, 16))
    off = image_metrics(flat + 0.5, flat)
    assert off["mae"][0] == pytest.approx(0.5) and off["rmse"][0] == pytest.approx(0.5)
    assert off["psnr"][0] == pytest.approx(20 * np.log10(2 / 0.5))
    s = summarise(m)
    assert s["ssim"]["n"] == 2


def test_agreement_r2_is_identity_not_refitted():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert agreement(y, y)["r2"] == pytest.approx(1.0)
    a = agreement(2 * y, y)  # perfectly correlated but biased: Pearson 1, R^2 below 1
    assert a["pearson"] == pytest.approx(1.0) and a["r2"] < 0


def test_feature_comparison_and_plots(tmp_path):
    g = np.random.default_rng(1)
    real = g.normal(size=(20, 8))
    out = feature_comparison(real, real + 0.01 * g.normal(size=real.shape), out_dir=tmp_path)
    assert out["retrieval_top1"] == 1.0 and out["frechet"] < 0.05 and out["paired_cosine_mean"] > 0.99
    assert all((tmp_path / p).exists() for p in out["plots"]) and len(out["plots"]) == 2
    far = feature_comparison(real, g.normal(size=real.shape) + 3.0)
    assert far["frechet"] > 10 * out["frechet"]


def beating_disc(T=12, size=32, r0=9.0, amp=4.0):
    yy, xx = np.mgrid[0:size, 0:size]
    d = np.hypot(yy - (size - 1) / 2, xx - (size - 1) / 2)
    r = r0 + amp * np.cos(2 * np.pi * np.arange(T) / T)
    return np.where(d[None] < r[:, None, None], 0.9, -0.8).astype(np.float32)


def test_phenotype_agreement_on_beating_discs():
    real = np.stack([beating_disc(r0=r, amp=3.0) for r in (6, 8, 10, 12)])
    res = phenotype_agreement(real, real)
    assert res["edv_index"]["r2"] == pytest.approx(1.0)
    res2 = phenotype_agreement(real[::-1].copy(), real)
    assert res2["edv_index"]["r2"] < 0
    model = lambda c: c.reshape(len(c), -1).mean(1, keepdims=True)  # noqa: E731
    res3 = phenotype_agreement(real, real, phenotype_model=model, names=["mean"])
    assert res3["model:mean"]["r2"] == pytest.approx(1.0)


def test_lv_mass_contrast_signs_and_table(tmp_path):
    from cardionets.generate.report import lv_mass_contrast, markdown_table

    # real cines: the blood pool grows with LV mass; "good" follows it, "flipped" runs against it
    lvm = np.array([60.0, 80, 100, 120, 140, 160, 180, 200])
    real = np.stack([beating_disc(r0=5 + m / 40, amp=2.0) for m in lvm])
    cines = {"good": real + 0.01, "flipped": real[::-1].copy()}
    pred = {"real": lvm / 100, "good": lvm / 90, "flipped": -lvm / 100}
    ids = [f"S{i}" for i in range(8)]
    res = lv_mass_contrast(cines, real, lvm, ids, tmp_path, spacing=1.8, predicted_lvm=pred)
    assert res["group_size"] == 2 and res["true_LVM"] == {"high": 190.0, "low": 70.0}
    assert res["strip_subjects"] == {"high": ["S7", "S6"], "low": ["S0", "S1"]}
    assert res["edv_index"]["real"]["high"] > res["edv_index"]["real"]["low"]
    assert res["right_direction"] == {"good": {"edv_index": True, "model_LVM": True},
                                      "flipped": {"edv_index": False, "model_LVM": False}}
    assert res["model_LVM"]["good"]["pearson_vs_true_LVM"] == pytest.approx(1.0)
    assert (tmp_path / "strip_lv_mass_high_vs_low.png").exists()
    table = markdown_table({"n": 8, "models": {}, "lv_mass": res})
    assert "| flipped |" in table and "edv_index: no, model_LVM: no" in table and "(reference)" in table
