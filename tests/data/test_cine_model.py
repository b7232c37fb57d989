"""The 4-chamber cine renderer: fast paths against their references, determinism, and the motion
the phenotypes prescribe (AV-plane descent, wall thickening, chamber areas)."""
from __future__ import annotations

import numpy as np
import pytest

from cardionets.data.synth import cine_model
from cardionets.data.synth.phenotypes import heart_rate_at_imaging
from cardionets.data.synth.writer import _rngs, draw_subject


def _render(index: int, seed: int = 5, preset: str = "ukb", debug: dict | None = None):
    s, d, ph = draw_subject(index, seed, preset)
    r = _rngs(seed, index)[2]
    cine, info = cine_model.render_cine(ph, d, heart_rate_at_imaging(s, d), r, debug=debug, anatomy=s.anatomy)
    return cine, info, ph


def test_blur3_matches_gaussian_filter():
    from scipy.ndimage import gaussian_filter

    img = np.random.default_rng(0).random((3, 20, 24)).astype(np.float32)
    for sigma in (0.5, 0.7):
        ref = gaussian_filter(img, (0, sigma, sigma), mode="nearest", truncate=1.0 / sigma)
        np.testing.assert_allclose(cine_model.blur3(img, sigma), ref, rtol=1e-5, atol=1e-6)


def test_cine_shape_dtype_and_determinism():
    a, info, _ = _render(3)
    b, _, _ = _render(3)
    assert a.shape == (cine_model.N_FRAMES, cine_model.SIZE, cine_model.SIZE) and a.dtype == np.int16
    assert np.array_equal(a, b)
    assert 0 < info.es_frame < cine_model.N_FRAMES // 2
    r, c = (int(round(x)) for x in info.lv_center_rc)
    assert a[0, r, c] > np.percentile(a[0], 75)         # the LV centre is in the bright blood pool


def test_systole_moves_the_av_plane_and_thickens_the_walls():
    dbg: dict = {}
    _, info, ph = _render(7, debug=dbg)
    ed, es = 0, info.es_frame
    u = dbg["u"]
    cav = dbg["lv_cav"] < 0
    myo = (dbg["lv_epi"] < 0) & ~cav
    # the AV plane descends towards the (fixed) apex by the longitudinal strain x LV length
    descent = dbg["base"][es] - dbg["base"][ed]
    expected = -ph["Ell_global"] / 100.0 * dbg["a_ed"]
    assert descent == pytest.approx(expected, rel=0.3)
    basal_ed, basal_es = u[cav[ed]].min(), u[cav[es]].min()
    assert basal_es - basal_ed > 0.5 * expected
    assert abs(u[cav[es]].max() - u[cav[ed]].max()) < 0.5 * expected + 2.0   # apex nearly still
    # cavity shrinks by about the ejection fraction, muscle area stays (thickening), per pixel count
    area_ratio = cav[es].sum() / cav[ed].sum()
    assert area_ratio < 1.0 - 0.4 * ph["LVEF"] / 100.0
    assert 0.8 < myo[es].sum() / myo[ed].sum() < 1.4


def test_chamber_areas_follow_volumes_over_the_cycle():
    from scipy.stats import spearmanr

    dbg: dict = {}
    s, d, ph = draw_subject(11, 5, "ukb")
    _render(11, debug=dbg)
    curves, _ = cine_model.volume_curves(ph, heart_rate_at_imaging(s, d))
    for ch, key in (("lv_cav", "LV"), ("rv_cav", "RV"), ("la_cav", "LA"), ("ra_cav", "RA")):
        area = (dbg[ch] < 0).sum(axis=(1, 2))
        assert spearmanr(area, curves[key]).statistic > 0.85, ch
