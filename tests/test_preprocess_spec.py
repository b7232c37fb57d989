"""The preprocessing spec (cardionets.preprocess): validation, the stable hash, and that it reaches
every path (the training cache key, the native pipeline)."""
import numpy as np
import pytest

from cardionets import dsp
from cardionets.data.ecg_cache import build_ecg_cache
from cardionets.errors import InputError
from cardionets.preprocess import DEFAULT_SPEC, PreprocessSpec


def test_defaults_are_the_stmem_recipe_and_the_hash_is_stable():
    s = DEFAULT_SPEC
    assert (s.fs, s.highpass_hz, s.lowpass_hz, s.order, s.crop_len, s.n_crops, s.standardize) == \
        (250.0, 0.67, 40.0, 5, 2250, 3, "crop")
    assert s.key() == PreprocessSpec().key() == PreprocessSpec.from_dict(s.to_dict()).key()
    assert s.with_(lowpass_hz=35.0).key() != s.key()
    assert s.with_(order=4).key() != s.key()


@pytest.mark.parametrize("bad", [{"lowpass_hz": 200.0}, {"highpass_hz": 50.0}, {"order": 0}, {"crop_len": 0},
                                 {"n_crops": 0}, {"standardize": "global"}, {"leads": ["II", "I"]}, {"fs": -1}])
def test_invalid_specs_raise_naming_the_field(bad):
    with pytest.raises(InputError, match="preprocessing spec"):
        PreprocessSpec.from_dict({**DEFAULT_SPEC.to_dict(), **bad})


def test_from_dict_rejects_unknown_keys_and_coerces_strings():
    with pytest.raises(InputError, match="unknown key.*cutoff"):
        PreprocessSpec.from_dict({"cutoff": 3}, "cfg.yaml: preprocess")
    assert PreprocessSpec.from_dict({"n_crops": "2", "lowpass_hz": "35"}) == DEFAULT_SPEC.with_(n_crops=2, lowpass_hz=35.0)


def test_native_pipeline_follows_the_spec():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 5000)).astype(np.float32)
    other = DEFAULT_SPEC.with_(fs=200.0, crop_len=1800, n_crops=2)
    assert dsp.preprocess(x, 500, spec=other).signal.shape == (2, 12, 1800)
    a = dsp.filter_record(x, 500)
    b = dsp.filter_record(x, 500, DEFAULT_SPEC.with_(lowpass_hz=30.0))
    assert a.shape == b.shape and np.abs(a - b).max() > 1e-3


def test_cache_key_includes_the_spec(tmp_path, real_data):
    hea = real_data / "ecg" / "cinc2021" / "E07506.hea"
    for f in hea.parent.glob("E07506.*"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    a = build_ecg_cache(tmp_path, ["E07506.hea"])
    b = build_ecg_cache(tmp_path, ["E07506.hea"], DEFAULT_SPEC.with_(lowpass_hz=30.0))
    assert len(list((tmp_path / "cache").glob("ecg_*.f32"))) == 2       # a new filter never reuses the cache
    assert a.spec == DEFAULT_SPEC and b.spec.lowpass_hz == 30.0
    assert np.abs(a[0] - b[0]).max() > 1e-4
    again = build_ecg_cache(tmp_path, ["E07506.hea"])
    np.testing.assert_array_equal(again[0], a[0])


def test_text_form_carries_every_field():
    """The ``key value`` form the C++ example reads (examples/cpp/main.cpp read_spec) has every field."""
    spec = DEFAULT_SPEC.with_(n_crops=2, lowpass_hz=35.5, standardize="lead")
    rows = dict(line.split(" ", 1) for line in spec.to_text().splitlines())
    assert set(rows) == set(spec.to_dict())
    back = {k: (v.split() if k == "leads" else v) for k, v in rows.items()}
    assert PreprocessSpec.from_dict(back) == spec
