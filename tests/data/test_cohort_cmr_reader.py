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


# ---------------------------------------------------------------------------------------------------
# Real cine preprocessing: localisation, orientation, view check, hostile inputs
# ---------------------------------------------------------------------------------------------------
def _nifti(path, frames_trc, spacing=(1.8, 1.8), affine=None, dtype=np.float32, z_stack=1):
    """Write [t, rows, cols] (or a z-stack of copies) as NIfTI (x=cols, y=rows, z, t)."""
    import nibabel as nib

    data = np.ascontiguousarray(frames_trc.transpose(2, 1, 0))[:, :, None, :]
    data = np.repeat(data, z_stack, axis=2).astype(dtype)
    aff = np.diag([-spacing[1], -spacing[0], 8.0, 1.0]) if affine is None else affine
    img = nib.Nifti1Image(data, aff)
    img.header.set_xyzt_units("mm", "msec")
    img.header["pixdim"][4] = 30.0
    nib.save(img, str(path))
    return path


def test_sunnybrook_heart_centred_crop_reported_and_short_axis_flagged(real_data):
    from cardionets.io.cmr import inspect_cmr, load_cine, preprocess_cine
    from cardionets.io.cmr_localise import motion_centre

    res = inspect_cmr(real_data / "cmr" / "sunnybrook_SCD0000101")
    rep = res.report
    centre = (95 - 1) / 2 + 0.5
    mr, mc = motion_centre(res.x)                         # where the input moves
    assert np.hypot(mr - centre, mc - centre) <= 12.0
    assert rep["input_motion_offset_px"] <= 12.0
    box = rep["crop_box"]
    assert box["rows"][1] - box["rows"][0] == pytest.approx(172.8 / 1.367188, abs=0.01)
    assert box["placement"] == {"rows": "centred on the heart", "cols": "centred on the heart"}
    assert rep["view"]["view"] == "short-axis" and not rep["view"]["ok"]
    assert any("short axis" in w for w in rep["warnings"])
    assert rep["orientation"]["source"] == "plane geometry"
    # the old centre crop (no orientation, image centre) put the moving heart far off centre
    old = preprocess_cine(load_cine(real_data / "cmr" / "sunnybrook_SCD0000101"), orient=False, center=(127.5, 127.5))
    assert old.report["input_motion_offset_px"] > 18 > 3 * rep["input_motion_offset_px"]
    with pytest.raises(InputError, match="short axis"):
        inspect_cmr(real_data / "cmr" / "sunnybrook_SCD0000101", on_view="raise")


def test_localisation_finds_a_synthetic_heart_off_centre(tiny_cohort, tmp_path):
    """A synthetic 4-chamber cine (96 x 96 at 1.8 mm) pasted off-centre into a 200 x 180 field of
    view: the heart is found and the input is the original cine again, to a few pixels."""
    import pandas as pd
    import nibabel as nib

    subj = pd.read_parquet(tiny_cohort / "subjects.parquet").iloc[0]
    img = nib.load(str(tiny_cohort / subj["cmr_path"]))
    cine = np.asarray(img.dataobj, dtype=np.float32)[:, :, 0, :].transpose(2, 1, 0)      # [t, rows, cols]
    big = np.full((cine.shape[0], 200, 180), float(cine.min()), np.float32)
    r0, c0 = 90, 12
    big[:, r0:r0 + 96, c0:c0 + 96] = cine
    ref = read_cmr(tiny_cohort / subj["cmr_path"])
    out = read_cmr(_nifti(tmp_path / "big.nii.gz", big))
    from cardionets.io.cmr_localise import motion_centre

    mr, mc = motion_centre(out)
    assert np.hypot(mr - 47.5, mc - 47.5) <= 12.0          # the moving heart is in the middle of the input
    # and the input is the original cine, moved by a few pixels
    best = max((np.corrcoef(ref[:, max(dr, 0):96 + min(dr, 0), max(dc, 0):96 + min(dc, 0)].ravel(),
                            out[:, max(-dr, 0):96 + min(-dr, 0), max(-dc, 0):96 + min(-dc, 0)].ravel())[0, 1], dr, dc)
               for dr in range(-12, 13, 2) for dc in range(-12, 13, 2))
    assert best[0] > 0.9


def test_orientation_is_canonical_whatever_the_stored_flip(tmp_path, tiny_cohort):
    """The same cine stored flipped (with the affine saying so) reads identically."""
    import pandas as pd
    import nibabel as nib

    subj = pd.read_parquet(tiny_cohort / "subjects.parquet").iloc[1]
    img = nib.load(str(tiny_cohort / subj["cmr_path"]))
    cine = np.asarray(img.dataobj, dtype=np.float32)[:, :, 0, :].transpose(2, 1, 0)
    ref = read_cmr(tiny_cohort / subj["cmr_path"])
    flipped = cine[:, ::-1, :].transpose(0, 2, 1)          # rows flipped, then transposed
    # new data axis 0 (cols) = old rows reversed -> direction +A (RAS y); axis 1 = old cols -> patient left (-x)
    aff = np.array([[0, -1.8, 0, 0], [1.8, 0, 0, 0], [0, 0, 8.0, 0], [0, 0, 0, 1]], float)
    out = read_cmr(_nifti(tmp_path / "flip.nii.gz", np.ascontiguousarray(flipped), affine=aff))
    assert np.abs(out - ref).max() < 1e-4


def test_time_resampling_follows_trigger_times():
    from cardionets.io.cmr import resample_time

    f = np.array([0.0, 1.0, 3.0], np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)
    g = resample_time(f, 4, trigger_ms=np.array([0.0, 100.0, 300.0]))   # period 300 + 150 = 450 ms
    assert g[:, 0, 0] == pytest.approx([0.0, 1.0 + 2.0 * (112.5 - 100) / 200, 1.0 + 2.0 * 125 / 200, 3.0 * 0.75], abs=1e-5)


def test_nan_patch_is_inpainted_and_flagged(tmp_path, tiny_cohort):
    import pandas as pd
    import nibabel as nib
    from cardionets.io.cmr import inspect_cmr

    subj = pd.read_parquet(tiny_cohort / "subjects.parquet").iloc[2]
    cine = np.asarray(nib.load(str(tiny_cohort / subj["cmr_path"])).dataobj, np.float32)[:, :, 0, :].transpose(2, 1, 0)
    clean = inspect_cmr(_nifti(tmp_path / "clean.nii.gz", cine)).x
    bad = cine.copy()
    bad[7, 40:44, 50:54] = np.nan                          # one 4x4 NaN patch in one frame
    res = inspect_cmr(_nifti(tmp_path / "nan.nii.gz", bad))
    assert np.isfinite(res.x).all()
    assert res.report["nonfinite_pixels_inpainted"] == 16
    assert any("inpainted" in w for w in res.warnings)
    assert np.abs(res.x - clean).max() < 0.5 and np.abs(res.x - clean).mean() < 0.01
    worse = cine.copy()
    worse[:, :30, :] = np.inf                              # far more than 1 %: refused
    with pytest.raises(InputError, match="MAX_NONFINITE_FRACTION"):
        inspect_cmr(_nifti(tmp_path / "inf.nii.gz", worse))


def test_hostile_geometry_refused_quickly(tmp_path):
    """A 40 mm pixel spacing and a huge declared size are refused in well under a second, naming
    the limit (a 40 mm NIfTI used to take 7 GB and 74 s)."""
    import struct
    import time

    import nibabel as nib

    cine = np.random.default_rng(0).random((20, 256, 256), dtype=np.float32)
    p40 = _nifti(tmp_path / "40mm.nii", cine, spacing=(40.0, 40.0))
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="SPACING_RANGE_MM"):
        read_cmr(p40)
    assert time.perf_counter() - t0 < 2.0
    # a 352-byte header declaring 30000 x 30000 x 1 x 50 voxels, with no data behind it
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((30000, 30000, 1, 50))
    hdr.set_data_dtype(np.float32)
    hdr.set_zooms((1.0, 1.0, 8.0, 30.0))
    hdr["vox_offset"] = 352
    (tmp_path / "huge.nii").write_bytes(hdr.binaryblock + struct.pack("<4x"))
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="MAX_SIDE|MAX_SOURCE_VOXELS"):
        read_cmr(tmp_path / "huge.nii")
    assert time.perf_counter() - t0 < 2.0
    hdr.set_data_shape((2000, 2000, 1, 50))                 # within MAX_SIDE, over MAX_SOURCE_VOXELS
    (tmp_path / "huge2.nii").write_bytes(hdr.binaryblock + struct.pack("<4x"))
    with pytest.raises(InputError, match="MAX_SOURCE_VOXELS"):
        read_cmr(tmp_path / "huge2.nii")
    hdr.set_data_shape((64, 64, 1, 50))                     # plausible, but the data is missing
    (tmp_path / "short.nii").write_bytes(hdr.binaryblock + struct.pack("<4x"))
    with pytest.raises(InputError, match="short.nii"):
        read_cmr(tmp_path / "short.nii")
    with pytest.raises(InputError, match="not a cine"):
        read_cmr(_nifti(tmp_path / "still.nii.gz", cine[:1]))


def test_stack_refused_unless_a_slice_is_chosen(tmp_path):
    from cardionets.io.cmr import inspect_cmr

    cine = np.random.default_rng(1).random((20, 64, 64), dtype=np.float32)
    p = _nifti(tmp_path / "stack.nii.gz", cine, z_stack=9)
    with pytest.raises(InputError, match="stack of 9 slices"):
        read_cmr(p)
    res = inspect_cmr(p, slice_location=4)
    assert res.report["view"]["view"] == "short-axis" and res.x.shape == (50, 96, 96)


def test_zip_guards(tmp_path, real_data, monkeypatch):
    import zipfile

    from cardionets.io import cmr_zip

    src = sorted((real_data / "cmr" / "sunnybrook_SCD0000101").glob("*.dcm"))
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.dcm", b"\0" * (3 << 20))         # 3 MiB of zeros inflate ~1000-fold
    with pytest.raises(InputError, match="zip bomb"):
        read_cmr(bomb)
    monkeypatch.setattr(cmr_zip, "MAX_MEMBER_BYTES", 1000)
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.write(src[0], "a.dcm")
    with pytest.raises(InputError, match="MAX_MEMBER_BYTES"):
        read_cmr(plain)
    monkeypatch.undo()
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("link.dcm")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(InputError, match="symbolic link"):
        read_cmr(link)
    noseries = tmp_path / "readme.zip"
    with zipfile.ZipFile(noseries, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(InputError, match="no DICOM images"):
        read_cmr(noseries)


def test_view_from_series_descriptions():
    from cardionets.io.cmr_geometry import classify_description

    assert classify_description("CINE_segmented_LAX_4Ch") == "4ch"
    assert classify_description("CINE_segmented_LAX_2Ch") == "2ch"
    assert classify_description("CINE_segmented_LAX_3Ch") == "3ch"
    assert classify_description("CINE_segmented_SAX_b7") == "short-axis"
    assert classify_description("CINE_segmented_Ao_dist") == "other"
    assert classify_description("cine 4 chamber") == "4ch"
    assert classify_description("") is None and classify_description("FIESTA CINE") is None


def test_read_cmr_cli(real_data, tmp_path, capsys):
    import json

    from cardionets.cli import main

    sb = real_data / "cmr" / "sunnybrook_SCD0000101"
    (tmp_path / "junk.nii").write_bytes(b"not a nifti at all" * 30)
    rc = main(["read-cmr", str(sb), str(tmp_path / "junk.nii"), "--json", "--to-input", str(tmp_path / "in")])
    lines = capsys.readouterr().out.strip().splitlines()
    assert rc == 1 and len(lines) == 2                           # one bad file: the batch goes on, exit 1
    rep, err = json.loads(lines[0]), json.loads(lines[1])
    assert rep["view"]["view"] == "short-axis" and rep["crop_box"]["rows"] and rep["input"]["shape"] == [50, 96, 96]
    assert "junk.nii" in err["error"]
    assert np.load(tmp_path / "in" / "sunnybrook_SCD0000101.npy").shape == (50, 96, 96)
    assert (tmp_path / "in" / "sunnybrook_SCD0000101.png").stat().st_size > 10_000
    assert main(["read-cmr", str(sb)]) == 0
    text = capsys.readouterr().out
    assert "crop box rows" in text and "warning: this is a short axis cine" in text


def test_combined_lax_series_split_by_plane(real_data, tmp_path):
    """A UK Biobank 'CINE_segmented_LAX' series holding the 2/3/4-chamber planes: the second plane
    in instance order is taken as 4-chamber, with a warning."""
    import io
    import zipfile

    import pydicom

    from cardionets.io.cmr import inspect_cmr

    files = sorted((real_data / "cmr" / "sunnybrook_SCD0000101").glob("*.dcm"))[:6]
    iops = ([1, 0, 0, 0, 1, 0], [1, 0, 0, 0, 0, -1], [0, 1, 0, 0, 0, -1])   # three distinct planes
    with zipfile.ZipFile(tmp_path / "lax.zip", "w") as zf:
        for k, iop in enumerate(iops):
            for j, f in enumerate(files):
                ds = pydicom.dcmread(str(f))
                ds.SeriesDescription, ds.SeriesInstanceUID = "CINE_segmented_LAX", "1.2.3.4"
                ds.ImageOrientationPatient = iop
                ds.InstanceNumber = 100 * k + j + 1
                ds.SOPInstanceUID = f"1.2.3.4.{k}.{j}"
                if k == 1:
                    ds.PixelData = (ds.pixel_array // 2).astype(ds.pixel_array.dtype).tobytes()
                buf = io.BytesIO()
                ds.save_as(buf)
                zf.writestr(f"{k}_{j}.dcm", buf.getvalue())
    res = inspect_cmr(tmp_path / "lax.zip")
    assert res.report["source_shape"] == [6, 256, 256]
    raw = load_cine(tmp_path / "lax.zip")
    full = max(float(pydicom.dcmread(str(f)).pixel_array.max()) for f in files)
    assert raw.frames.max() == pytest.approx(full // 2, abs=1)        # the halved (second) plane
    assert any("second (in instance order)" in w for w in res.warnings)
