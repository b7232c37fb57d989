"""Cine writers (NIfTI spacing read back by nibabel, GIF, PNG strip) and the image measurements."""
from __future__ import annotations

import numpy as np
import pytest

from cardionets.errors import InputError
from cardionets.generate.measure import blood_pool_area, cine_phenotypes, ed_es_frames
from cardionets.generate.writers import write_cine_outputs, write_gif, write_nifti, write_strip


def beating_disc(T=12, size=32, r0=9.0, amp=4.0, shift=0):
    """A bright disc on a dark background whose radius follows a cosine over the cycle (ED at frame
    ``shift``)."""
    yy, xx = np.mgrid[0:size, 0:size]
    d = np.hypot(yy - (size - 1) / 2, xx - (size - 1) / 2)
    r = r0 + amp * np.cos(2 * np.pi * (np.arange(T) - shift) / T)
    return np.where(d[None] < r[:, None, None], 0.9, -0.8).astype(np.float32)


def test_nifti_keeps_spacing_frame_time_and_values(tmp_path):
    import nibabel as nib

    cine = beating_disc()
    p = write_nifti(tmp_path / "g.nii.gz", cine, spacing=(1.75, 1.85), frame_ms=19.5)
    img = nib.load(str(p))
    assert img.shape == (32, 32, 1, 12)
    zooms = img.header.get_zooms()
    assert zooms[:2] == pytest.approx((1.75, 1.85)) and zooms[3] == pytest.approx(19.5)
    back = np.asarray(img.dataobj)[:, :, 0, :].transpose(2, 1, 0) / (4095 / 2.0) - 1.0  # [T, H, W]
    assert np.abs(back - cine).max() < 1e-3


def test_gif_and_png_are_valid_images(tmp_path):
    from PIL import Image

    cine = beating_disc()
    g = write_gif(tmp_path / "c.gif", cine, scale=1)
    with Image.open(g) as im:
        assert im.format == "GIF" and im.n_frames == 12 and im.size == (32, 32)
    s = write_strip(tmp_path / "s.png", [("real", cine), ("generated", beating_disc(shift=3))], n_frames=4)
    with Image.open(s) as im:
        assert im.format == "PNG" and im.size[1] > 2 * 32
    paths = write_cine_outputs(tmp_path / "out", "subj", cine)
    assert [p.name for p in paths] == ["subj.nii.gz", "subj.gif", "subj_strip.png"] and all(p.exists() for p in paths)


def test_writers_reject_bad_arrays(tmp_path):
    with pytest.raises(InputError, match=r"\[T, H, W\]"):
        write_gif(tmp_path / "x.gif", np.zeros((4, 4)))
    with pytest.raises(InputError, match="non-finite"):
        write_nifti(tmp_path / "x.nii.gz", np.full((2, 4, 4), np.nan))


def test_ed_es_and_area():
    cine = beating_disc(r0=7.0, amp=3.0, shift=3)  # inside the central measurement field
    ed, es = ed_es_frames(cine)
    assert ed == 3 and es == 9
    area = blood_pool_area(cine, spacing=2.0)
    assert area[ed] == pytest.approx(4.0 * (np.hypot(*np.mgrid[0:32, 0:32] - 15.5) < 10.0).sum(), rel=0.05)
    ph = cine_phenotypes(cine)
    assert ph["edv_index"] > ph["esv_index"] > 0 and 0 < ph["ef"] < 100


def test_blockiness_finds_a_stamped_grid():
    from cardionets.generate.measure import blockiness

    g = np.random.default_rng(0)
    smooth = np.cumsum(np.cumsum(g.normal(0, 1, (3, 48, 48)), 1), 2)
    smooth = smooth / np.abs(smooth).max()
    assert blockiness(smooth, 8) == pytest.approx(1.0, abs=0.15)
    blocks = np.repeat(np.repeat(smooth[:, ::8, ::8], 8, 1), 8, 2)  # constant 8 x 8 cells
    assert blockiness(blocks, 8) > 10 and blockiness(blocks, 8) > blockiness(blocks, 16) * 0.5
    assert blockiness(smooth + 0.3 * (blocks - smooth), 8) > 1.5
    with pytest.raises(ValueError, match="period"):
        blockiness(np.zeros((4, 4)), 8)


def test_cycle_agreement_is_cyclic_and_scores_a_static_cine_low():
    from cardionets.generate.evaluate import cycle_agreement
    from cardionets.generate.measure import cyclic_frame_distance

    assert list(cyclic_frame_distance([0, 1, 11], [11, 11, 0], 12)) == [1, 2, 1]
    real = [cine_phenotypes(beating_disc(r0=7.0, amp=3.0, shift=s)) for s in (0, 0, 5)]
    same = [cine_phenotypes(beating_disc(r0=7.5, amp=2.5, shift=s)) for s in (11, 1, 5)]  # off by one frame
    late = [cine_phenotypes(beating_disc(r0=7.0, amp=3.0, shift=s + 6)) for s in (0, 0, 5)]
    a, b = cycle_agreement(same, real, tolerance=1), cycle_agreement(late, real, tolerance=1)
    assert a["both_within"] == 1.0 and a["phase_curve_pearson_mean"] > 0.9
    assert b["both_within"] == 0.0 and b["phase_curve_pearson_mean"] < -0.9
    static = [cine_phenotypes(np.repeat(beating_disc()[:1], 12, 0))] * 3
    assert cycle_agreement(static, real)["phase_curve_pearson_mean"] == 0.0


def two_chambers(T=20, size=64):
    """A ventricle (myocardial ring, centred) and an atrium below-left filling in anti-phase: the whole
    bright pool is largest at end-systole, the ventricle at end-diastole (frame 0)."""
    yy, xx = np.mgrid[0:size, 0:size]
    ph = np.cos(2 * np.pi * np.arange(T) / T)[:, None, None]  # 1 at ED, -1 at ES (frame T / 2)
    r_lv, r_la = 6.5 + 2.5 * ph, 5.75 - 3.25 * ph
    d_lv, d_la = np.hypot(yy - 30, xx - 34)[None], np.hypot(yy - 42, xx - 24)[None]
    img = np.full((T, size, size), -0.8, np.float32)
    img[np.broadcast_to(d_lv < r_lv + 2.0, img.shape)] = 0.0  # myocardium
    img[np.broadcast_to(d_lv < r_lv, img.shape)] = 0.9
    img[np.broadcast_to(d_la < r_la, img.shape)] = 0.9
    return img


def test_lv_reading_finds_the_ventricle_not_the_largest_pool():
    from cardionets.generate.measure import area_length_volume, lv_reading

    cine = two_chambers()
    assert int(np.argmax(blood_pool_area(cine, threshold=0.5))) == 10  # the whole pool peaks at ES here
    r = lv_reading(cine, spacing=1.0)
    assert (r["ed_frame"], r["es_frame"]) == (0, 10)
    assert r["ed_area"] == pytest.approx(np.pi * 9.0 ** 2, rel=0.15) and 0.4 * np.pi * 16 < r["es_area"] < 1.1 * np.pi * 16  # a small chamber loses some area to the erosion
    assert r["ed_length"] == pytest.approx(18.0, abs=2.0)
    assert r["edv"] == pytest.approx(area_length_volume(r["ed_area"], r["ed_length"])) and r["edv"] > r["esv"] > 0
    assert r["phase_curve"][0] == r["phase_curve"].max()
    ph = cine_phenotypes(cine, spacing=1.0)
    assert 60 < ph["ef"] < 100 and ph["ed_frame"] == 0.0
    assert cine_phenotypes(np.roll(cine, 7, axis=0), spacing=1.0)["ed_frame"] == 7.0
    with pytest.raises(ValueError, match=r"\[T, H, W\]"):
        lv_reading(cine[0])
