"""cardionets.io.read_cmr: NIfTI, DICOM series (Sunnybrook fixture), multi-frame DICOM."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from cardionets.errors import InputError
from cardionets.io import read_cmr
from cardionets.io.cmr import load_cine, resample_time


def _three_slice_series(src: Path, dst: Path) -> Path:
    """The fixture's real mid-ventricular slice (SliceLocation -50.2) plus two copies moved to
    -30.1 and -70.4 mm (the series' real basal and apical positions), as a three-slice series."""
    import pydicom

    dst.mkdir()
    for f in sorted(src.glob("*.dcm")):
        shutil.copy(f, dst / f.name)
        for k, loc in ((1, -30.1), (2, -70.4)):
            ds = pydicom.dcmread(str(f))
            ds.SliceLocation = loc
            ds.ImagePositionPatient = [*ds.ImagePositionPatient[:2], loc]
            ds.SOPInstanceUID = f"{ds.SOPInstanceUID}.{k}"
            ds.save_as(str(dst / f"{k}_{f.name}"))
    return dst


def test_sunnybrook_series(real_data, tmp_path):
    d = _three_slice_series(real_data / "cmr" / "sunnybrook_SCD0000101", tmp_path / "series")
    cine = load_cine(d, slice_location=-30.0)
    assert cine.frames.shape == (20, 256, 256)
    assert cine.meta["slice_location"] == pytest.approx(-30.1, abs=0.05)
    assert np.all(np.diff(cine.trigger_ms) > 0)                 # ordered by TriggerTime
    assert cine.spacing == pytest.approx((1.367188, 1.367188))
    x = read_cmr(d, slice_location=-70.4)
    assert x.shape == (50, 96, 96) and x.dtype == np.float32
    assert x.min() >= -1 and x.max() <= 1 and x.max() > 0.9
    # middle slice by default; a single file of the series reads its own slice
    assert load_cine(d).meta["slice_location"] == pytest.approx(-50.2, abs=0.05)
    assert load_cine(d / "101.dcm").meta["slice_location"] == pytest.approx(-50.2, abs=0.05)


def test_time_interpolation_periodic():
    f = np.arange(20, dtype=np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)
    g = resample_time(f, 50)
    assert g.shape == (50, 2, 2) and g[0, 0, 0] == 0 and g[5, 0, 0] == pytest.approx(2.0)
    assert g[-1, 0, 0] == pytest.approx(19 * 0.4)                  # 19.6: wraps towards frame 0
    assert resample_time(np.ones((30, 2, 2), np.float32), 50).shape == (50, 2, 2)


def test_nifti_roundtrip_and_centre(tmp_path):
    from cardionets.data.synth.writer import write_nifti

    rng = np.random.default_rng(0)
    cine = np.zeros((30, 128, 140), np.int16)
    cine[:, 40:60, 90:110] = 1000                                   # a bright square off centre
    cine += rng.integers(0, 50, cine.shape).astype(np.int16)
    write_nifti(tmp_path / "c.nii.gz", cine, spacing=1.2, frame_ms=30.0)
    raw = load_cine(tmp_path / "c.nii.gz")
    assert raw.frames.shape == (30, 128, 140) and raw.spacing == pytest.approx((1.2, 1.2))
    x = read_cmr(tmp_path / "c.nii.gz", center=(50, 100))
    assert x.shape == (50, 96, 96)
    # the square (20 px at 1.2 mm = 13.3 px at 1.8 mm) sits in the middle of the crop
    bright = np.argwhere(x[0] > 0.5)
    assert np.allclose(bright.mean(0), 47.5, atol=1.5)
    assert 150 < len(bright) < 210


def test_multiframe_dicom(tmp_path):
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"   # Enhanced MR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(tmp_path / "mf.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
    frames = (np.arange(25)[:, None, None] * 10 + np.zeros((1, 64, 64))).astype(np.uint16)
    ds.Rows, ds.Columns, ds.NumberOfFrames = 64, 64, 25
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelSpacing = [2.0, 2.0]
    ds.FrameTime = 40.0
    ds.PixelData = frames.tobytes()
    ds.save_as(str(tmp_path / "mf.dcm"), enforce_file_format=True)
    raw = load_cine(tmp_path / "mf.dcm")
    assert raw.frames.shape == (25, 64, 64) and raw.meta["format"] == "dicom-multiframe"
    x = read_cmr(tmp_path / "mf.dcm")
    assert x.shape == (50, 96, 96)


def test_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_cmr(tmp_path / "nope.nii.gz")
    (tmp_path / "junk.bin").write_bytes(b"hello")
    with pytest.raises(InputError, match="neither NIfTI"):
        read_cmr(tmp_path / "junk.bin")
