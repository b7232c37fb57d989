"""WFDB reading: the native reader against the wfdb package on every WFDB fixture."""
from __future__ import annotations

import numpy as np
import pytest

from cardionets.io import STANDARD_LEADS, read_ecg


def _records(real_data):
    recs = sorted((real_data / "ecg" / "cinc2021").glob("*.hea")) + [real_data / "ecg" / "ptb" / "s0010_re.hea"]
    return [r for r in recs if r.exists()]


def test_wfdb_fixtures_read(real_data):
    import wfdb

    recs = _records(real_data)
    assert len(recs) >= 25
    for hea in recs:
        ecg = read_ecg(hea)
        ref = wfdb.rdrecord(str(hea.with_suffix("")))
        assert ecg.signal.dtype == np.float32
        assert ecg.signal.shape == (ref.n_sig, ref.sig_len)
        assert ecg.fs == ref.fs
        np.testing.assert_allclose(ecg.signal, ref.p_signal.T, atol=1e-6, rtol=1e-6)
        std = ecg.standard()
        assert std.leads == list(STANDARD_LEADS)
