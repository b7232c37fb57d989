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


def test_surroundings_move_with_the_heart_but_the_chest_wall_does_not():
    """Tissue next to the heart follows it in systole; far from it the background is static."""
    from scipy.ndimage import distance_transform_edt

    dbg: dict = {}
    _, info, _ = _render(4, debug=dbg)
    heart = (dbg["lv_epi"][0] < 0) | (dbg["rv_epi"][0] < 0) | (dbg["la_cav"][0] < 2) | (dbg["ra_cav"][0] < 2)
    dist = distance_transform_edt(~heart) * cine_model.SPACING
    img = dbg["noise_free"]
    change = np.abs(img[info.es_frame] - img[0])
    near, far = (dist > 14) & (dist < 22), dist > 45
    assert far.sum() > 200 and near.sum() > 100
    assert np.percentile(change[near], 90) > 0.02          # neighbours move
    assert np.median(change[far]) < 0.003                   # the chest wall and spine do not


def test_effusion_rim_and_anatomy():
    """An acute pericarditis effusion is a bright rim outside the epicardial fat; the long axis'
    angle in the image is the subject's anatomy (90 deg - transverse angle + planning scatter)."""
    idx = next(i for i in range(600) if draw_subject(i, 0, "enriched")[1].peri_acute)
    s, d, ph = draw_subject(idx, 0, "enriched")
    r = _rngs(0, idx)[2]
    from cardionets.data.synth.diseases import DiseaseState

    dry = DiseaseState(**{**d.__dict__, "effusion_mm": 0.3, "pericardium_mm": 1.5})
    wet_img, _ = cine_model.render_cine(ph, d, 62.0, _rngs(0, idx)[2], anatomy=s.anatomy)
    dry_img, _ = cine_model.render_cine(ph, dry, 62.0, r, anatomy=s.anatomy)
    assert d.effusion_mm >= 3.0
    brighter = (wet_img[0].astype(float) - dry_img[0]) / np.percentile(dry_img[0], 99)
    assert (brighter > 0.3).sum() > 40                       # a rim of fluid where there was fat or lung
    angles = []
    for i in range(200):
        si, _, _ = draw_subject(i, 0, "ukb")
        angles.append((si.anatomy.cine_angle_deg, si.anatomy.transverse_deg))
    a = np.array(angles)
    assert np.corrcoef(a[:, 0], a[:, 1])[0, 1] < -0.75


def test_cohort_version_is_recorded(tiny_cohort):
    import json

    import pyarrow.parquet as pq

    from cardionets.data.synth.writer import GENERATOR_VERSION, cohort_info

    info = cohort_info(tiny_cohort)
    assert info["version"] == GENERATOR_VERSION == 5 and "PERI" in info["diseases"] and info["format"] == 1
    meta = json.loads(pq.read_schema(tiny_cohort / "subjects.parquet").metadata[b"cardionets.cohort"])
    assert meta == info


def _pixel(dbg: dict, u: float, v: float) -> tuple[int, int]:
    """The pixel whose heart-frame coordinates are nearest to (u, v) mm."""
    d2 = (dbg["u"] - u) ** 2 + (dbg["v"] - v) ** 2
    return np.unravel_index(int(np.argmin(d2)), d2.shape)


def test_heart_has_real_size_and_leaves_room_for_its_surroundings():
    """A 4-chamber heart: LV cavity ~75-105 mm long at ED for a normal volume, walls ~1.4 x the
    phenotype's (hypertrophied ones at most 2.8 mm more), and the heart covers well under half of the
    173 mm field (lung, chest wall, liver and mediastinum around it)."""
    assert cine_model.drawn_wall(6.0) == pytest.approx(8.4) and cine_model.drawn_wall(25.0) == pytest.approx(27.8)
    for i in (1, 2, 3, 5):
        dbg: dict = {}
        _, _, ph = _render(i, seed=0, debug=dbg)
        cav = dbg["lv_cav"][0] < 0
        length = dbg["u"][cav].max() - dbg["u"][cav].min()
        assert 75.0 < length < 105.0, (i, ph["LVEDV"], length)
        heart = (dbg["lv_epi"][0] < 0) | (dbg["rv_epi"][0] < 0) | (dbg["la_cav"][0] < 2) | (dbg["ra_cav"][0] < 2)
        assert 0.2 < heart.mean() < 0.5, (i, heart.mean())
        # mid-septum thickness at ED: across the septum at 40 % of the LV length
        u0 = 0.4 * dbg["a_ed"]
        band = (np.abs(dbg["u"] - u0) < 1.5) & (dbg["v"] < 0) & (dbg["v"] > -60)
        v = dbg["v"][band]

        def crossing(field):                       # v where a (signed-distance) field crosses 0
            f = field[0][band]
            o = np.argsort(f)
            return float(np.interp(0.0, f[o], v[o]))
        septum = crossing(dbg["lv_cav"]) - crossing(dbg["lv_epi"])
        wt = cine_model.drawn_wall(ph["WT_AHA_9"])
        assert 0.8 * wt < septum < 1.25 * wt + 1.0, (i, septum, wt)


def test_mitral_leaflets_close_in_systole_and_open_in_diastole():
    """Along the LV long axis through the mitral orifice the closed leaflets are a dark line at ED and
    ES; in early filling they swing open towards the walls and the path is blood throughout."""
    dbg: dict = {}
    s, d, ph = draw_subject(2, 0, "ukb")
    hr = heart_rate_at_imaging(s, d)
    _, info = cine_model.render_cine(ph, d, hr, _rngs(0, 2)[2], anatomy=s.anatomy, male=s.male, bmi=s.bmi,
                                     debug=dbg)
    _, ts = cine_model.volume_curves(ph, hr)
    img = dbg["noise_free"]
    n = img.shape[0]
    f_open = int(round((ts + 0.07) * n))
    blood = np.median(img[0][dbg["lv_cav"][0] < -3])

    def darkest(f):
        b = dbg["base"][f]
        a = _pixel(dbg, b + 0.3 * dbg["a_ed"], 0.0)          # LV cavity on the axis
        z = _pixel(dbg, b - 12.0, 0.0)                        # LA, above the annulus
        t = np.linspace(0.0, 1.0, 60)
        rr = np.rint(a[0] + t * (z[0] - a[0])).astype(int)
        cc = np.rint(a[1] + t * (z[1] - a[1])).astype(int)
        return img[f][rr, cc].min() / blood
    assert darkest(0) < 0.8 and darkest(info.es_frame) < 0.8
    assert darkest(f_open) > 0.85
