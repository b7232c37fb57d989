"""cardionets.dsp (native C++) against the float64 scipy reference (cardionets.dsp_reference)."""
from __future__ import annotations

import numpy as np
import pytest

from cardionets import dsp
from cardionets import dsp_reference as ref
from cardionets.errors import CardioNetsError, InputError
from cardionets.preprocess import DEFAULT_SPEC


def _twelve_lead_fixtures(real_data):
    from cardionets.io import read_ecg

    paths = sorted((real_data / "ecg" / "cinc2021").glob("*.hea"))
    paths += [real_data / "ecg" / "ptb" / "s0010_re.hea"]
    paths += sorted((real_data / "ecg" / "formats").glob("*"))
    out = []
    for p in paths:
        try:
            ecg = read_ecg(p)
        except CardioNetsError:
            continue  # a format not readable yet is covered by tests/io
        out.append((p.name, ecg.standard()))
    return out


def _rel(a, b):
    return float(np.abs(np.asarray(a, np.float64) - b).max() / max(np.abs(b).max(), 1e-12))


def test_filter_design_matches_scipy():
    from scipy.signal import firwin

    for order, cut, fs, hp in [(5, 0.67, 250, True), (5, 40, 250, False), (4, 1.0, 500, True), (2, 100, 1000, False)]:
        ours = dsp.butter_sos(order, cut, fs, hp)
        theirs = ref.butter_sos(order, cut, fs, hp)
        from scipy.signal import sosfreqz

        w, h1 = sosfreqz(ours, 512, fs=fs)
        _, h2 = sosfreqz(theirs, 512, fs=fs)
        assert np.abs(h1 - h2).max() < 1e-10
    import cardionets._C as C

    for up, down in [(1, 2), (1, 4), (250, 257), (5, 4)]:
        u, d, taps, pre = C.dsp_resample_filter(up, down)
        mx = max(u, d)
        h = firwin(2 * 10 * mx + 1, 1.0 / mx, window=("kaiser", 5.0)) * u
        np.testing.assert_allclose(np.asarray(taps)[-len(h):], h, rtol=0, atol=1e-13)


@pytest.mark.parametrize("n,n_crops", [(2250, 3), (2251, 3), (2500, 3), (2501, 3), (2750, 4), (5000, 1), (9600, 5)])
def test_crop_starts(n, n_crops):
    assert dsp.crop_starts(n, n_crops) == ref.crop_starts(n, n_crops)


def test_random_crops_are_seeded_and_in_range():
    a = dsp.crop_starts(3000, 5, random=True, seed=7, record=3)
    assert a == dsp.crop_starts(3000, 5, random=True, seed=7, record=3)
    assert a != dsp.crop_starts(3000, 5, random=True, seed=8, record=3)
    assert all(0 <= s <= 750 for s in a)


def test_every_stage_matches_scipy_on_fixtures(real_data):
    fixtures = _twelve_lead_fixtures(real_data)
    assert len(fixtures) >= 26
    for name, ecg in fixtures:
        x = ecg.signal.astype(np.float64)
        if not np.isfinite(x).all():
            continue
        r_ref = ref.resample(x, ecg.fs)
        r = dsp.resample(ecg.signal, ecg.fs)
        assert r.shape == r_ref.shape, name
        assert _rel(r, r_ref) < 1e-4, name
        b_in = r_ref.astype(np.float32)
        b_ref = ref.bandpass(b_in.astype(np.float64))
        assert _rel(dsp.bandpass(b_in), b_ref) < 1e-4, name
        f_ref = ref.bandpass(r_ref)
        assert _rel(dsp.filter_record(ecg.signal, ecg.fs), f_ref) < 1e-4, name
        c_ref = ref.crops(f_ref)
        np.testing.assert_array_equal(dsp.crops(f_ref.astype(np.float32)), c_ref.astype(np.float32))
        s_ref = ref.standardize(c_ref)
        assert np.abs(dsp.standardize(c_ref.astype(np.float32)) - s_ref).max() < 1e-3, name
        for mode in ("crop", "lead"):
            spec = DEFAULT_SPEC.with_(standardize=mode)
            out = dsp.preprocess(ecg.signal, ecg.fs, spec=spec)
            full_ref = ref.preprocess(x, ecg.fs, spec)
            assert out.signal.shape == full_ref.shape == (3, 12, 2250), name
            assert out.signal.dtype == np.float32
            assert np.abs(out.signal - full_ref).max() < 1e-3, (name, mode)
            assert not (int(out.flags) & dsp.fatal_mask()), (name, dsp.describe_flags(out.flags))


@pytest.mark.parametrize("fs", [500, 1000, 360, 257])
def test_resample_edges_and_kernels_match_scipy(fs):
    # 500 and 1000 Hz take the mirror-paired decimating kernels, 360 and 257 Hz the general
    # polyphase one; short signals are all edge (zero-padded) outputs, and 12 rows fill the
    # 12-lead transposes while 5 rows take the partial-group path.
    rng = np.random.default_rng(fs)
    for n in (1, 7, 40, 41, 83, 1001):
        for rows in (12, 5):
            x = rng.standard_normal((rows, n)).astype(np.float32)
            r_ref = ref.resample(x.astype(np.float64), fs)
            r = dsp.resample(x, fs)
            assert r.shape == r_ref.shape, (fs, n, rows)
            assert _rel(r, r_ref) < 1e-6, (fs, n, rows)


def test_sosfiltfilt_fast_and_general_cascades_match_scipy():
    # Odd-order Butterworth high/low-pass take the specialised cascade (numerators of 1 and 2 as
    # additions); even orders and a band-pass take the general one. Lengths just above the pad.
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(3)
    designs = [butter(5, 0.67, "highpass", fs=250, output="sos"), butter(5, 40, "lowpass", fs=250, output="sos"),
               butter(3, 5, "highpass", fs=250, output="sos"), butter(4, 40, "lowpass", fs=250, output="sos"),
               butter(2, [1, 40], "bandpass", fs=250, output="sos")]
    for sos in designs:
        pad = 3 * (2 * len(sos) + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum()))
        for n in (pad + 1, pad + 2, 64, 1001):
            for rows in (12, 5):
                x = (rng.standard_normal((rows, n)) + np.linspace(0, 3, n)).astype(np.float32)
                y_ref = sosfiltfilt(sos, x.astype(np.float64), axis=-1)
                assert _rel(dsp.sosfiltfilt(sos, x), y_ref) < 1e-6, (len(sos), n, rows)


def test_batch_threads_and_single_agree(real_data):
    fixtures = [e for n, e in _twelve_lead_fixtures(real_data) if e.fs == 500 and e.n_samples == 5000][:6]
    x = np.stack([e.signal for e in fixtures])
    one = dsp.preprocess_batch(x, 500, threads=1)
    two = dsp.preprocess_batch(x, 500, threads=2)
    np.testing.assert_array_equal(one.signal, two.signal)
    np.testing.assert_array_equal(one.flags, two.flags)
    np.testing.assert_array_equal(one.signal[2], dsp.preprocess(x[2], 500).signal)
    buf = np.empty_like(one.signal)
    res = dsp.preprocess_batch(x, 500, out=buf)
    assert res.signal is buf
    np.testing.assert_array_equal(buf, one.signal)
    with pytest.raises(CardioNetsError, match="out must be"):
        dsp.preprocess_batch(x, 500, out=np.empty((1, 3, 12, 2250), np.float32))
    tr = dsp.preprocess_batch(x, 500, mode="train", spec=DEFAULT_SPEC.with_(n_crops=2), seed=1)
    assert tr.signal.shape == (len(x), 2, 12, 2250)
    np.testing.assert_array_equal(tr.signal, dsp.preprocess_batch(x, 500, mode="train", spec=DEFAULT_SPEC.with_(n_crops=2), seed=1).signal)


def test_one_crop_when_exactly_nine_seconds():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 4500)).astype(np.float32)
    out = dsp.preprocess(x, 500)
    assert out.signal.shape == (1, 12, 2250)
    assert np.abs(out.signal - ref.preprocess(x.astype(np.float64), 500)).max() < 1e-3


def _clean(rng, T=5000):
    t = np.arange(T) / 500.0
    return (np.sin(2 * np.pi * 1.2 * t)[None] * rng.uniform(0.5, 1.5, (12, 1))
            + 0.05 * rng.standard_normal((12, T))).astype(np.float32)


def test_quality_flags_each_problem():
    rng = np.random.default_rng(1)
    base = _clean(rng)
    assert dsp.describe_flags(dsp.quality_flags(base, 500)) == []
    cases = {}
    x = base.copy(); x[3, 100] = np.nan; cases["nan_inf"] = (x, 500)
    x = base.copy(); x[4, 200] = np.inf; cases["nan_inf "] = (x, 500)
    x = base.copy(); x[5] = 0.1; cases["flat_lead"] = (x, 500)
    x = base.copy(); x[6] = np.clip(x[6], -0.4, 0.4); cases["clipped"] = (x, 500)
    x = base.copy(); x[7] *= 30; cases["amplitude"] = (x, 500)
    x = base.copy(); x[8] = np.nan; cases["missing_leads"] = (x, 500)
    cases["missing_leads "] = (base[:8], 500)
    cases["too_short"] = (base[:, :1000], 500)
    cases["unsupported_rate"] = (base, 499.5)
    cases["flat_record"] = (np.zeros_like(base), 500)
    for want, (x, fs) in cases.items():
        got = dsp.describe_flags(dsp.quality_flags(x, fs))
        assert want.strip() in got, (want, got)
        assert set(got) == ref.quality_flags(x, fs), (want, got)


def test_fatal_records_raise_or_come_back_nan():
    rng = np.random.default_rng(2)
    x = np.stack([_clean(rng), _clean(rng)])
    x[1, 2, 10] = np.nan
    with pytest.raises(InputError, match="record 1: nan_inf"):
        dsp.preprocess_batch(x, 500)
    out = dsp.preprocess_batch(x, 500, on_fatal="nan")
    assert np.isnan(out.signal[1]).all() and np.isfinite(out.signal[0]).all()
    assert dsp.describe_flags(out.flags[1]) == ["nan_inf"]
    with pytest.raises(InputError, match="too_short"):
        dsp.preprocess(x[0, :, :1000], 500, name="short.hea")
    with pytest.raises(InputError, match="unsupported_rate"):
        dsp.preprocess(x[0], 12.5)
    with pytest.raises(InputError, match="needs the 12 standard leads"):
        dsp.preprocess(x[0, :1], 500)
    with pytest.raises(InputError, match="expected"):
        dsp.preprocess_batch(x[:, :8], 500)
