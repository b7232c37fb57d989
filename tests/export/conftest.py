"""An untrained micro screening model and a batch of real preprocessed fixture records."""
from __future__ import annotations

import numpy as np
import pytest

MICRO = dict(width=32, depth=1, heads=2)


@pytest.fixture(scope="session")
def export_model_dir(tmp_path_factory):
    from cardionets.screen.untrained import write_untrained_model

    return write_untrained_model(tmp_path_factory.mktemp("export") / "model", "tiny", seed=2, **MICRO)


@pytest.fixture(scope="session")
def real_batch(real_data):
    """[N, 3, 12, 2250] preprocessed crops of real records in several formats."""
    from cardionets.dsp import preprocess_ecg
    from cardionets.io import read_ecg

    ecg = real_data / "ecg"
    files = [ecg / "cinc2021" / "HR06000.hea", ecg / "cinc2021" / "JS20000.hea", ecg / "cinc2021" / "E07500.hea",
             ecg / "formats" / "cardiosoft_ukb_style.xml", ecg / "formats" / "dicom_waveform_mortara.dcm"]
    return np.stack([preprocess_ecg(read_ecg(f)).signal for f in files]).astype(np.float32)
