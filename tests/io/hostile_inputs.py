"""Malformed, lying, oversized and malicious ECG files for every reader, written into a folder.

``write_hostile(folder, fixtures) -> {file name: reason}``: each file must make ``read_ecg`` raise a
CardioNetsError naming it; ``reason`` is a word its message contains. Shared by the io tests (errors,
time and memory per file) and the screening tests (one error row per file). Everything is built
here from the real fixtures; the big inputs are sparse files or compressed zeros, so the folder
takes a few MB on disk and about a second to write.
"""
from __future__ import annotations

import base64
import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def _wfdb(folder: Path, name: str, *, record_line: str | None = None, files: list[str] | None = None,
          units: str = "mV", fmt: str = "16", n: int = 5000, write_dat: bool = True) -> Path:
    """A 12-lead record; ``record_line`` / ``files`` replace the header's record line / signal file names."""
    rng = np.random.default_rng(0)
    if write_dat:
        (folder / f"{name}.dat").write_bytes(rng.integers(-500, 500, (n, 12)).astype("<i2").tobytes())
    files = files or [f"{name}.dat"] * 12
    lines = [record_line or f"{name} 12 500 {n}"]
    lines += [f"{files[i]} {fmt} 200/{units} 16 0 0 0 0 {LEADS[i]}" for i in range(12)]
    hea = folder / f"{name}.hea"
    hea.write_text("\n".join(lines) + "\n")
    return hea


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _zip(path: Path, members: dict[str, bytes], level: int = 6) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _npz_bomb(path: Path, shape: tuple[int, int]) -> Path:
    """An .npz whose float32 'signal' of ``shape`` is all zeros, deflated: a few MB that inflate to GB."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    fs = io.BytesIO()
    np.lib.format.write_array(fs, np.asarray(500.0))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("signal.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            zeros = bytes(1 << 22)
            left = shape[0] * shape[1] * 4
            while left > 0:
                f.write(zeros[: min(left, len(zeros))])
                left -= len(zeros)
        z.writestr("fs.npy", fs.getvalue())
    return path


def _cardiosoft(src: Path, dst: Path, **replace: str) -> Path:
    text = src.read_text(encoding="latin-1")
    cut = text.index("<StripData>")  # the rhythm strip (the median beat before it has the same fields)
    head, strip = text[:cut], text[cut:]
    for old, new in replace.items():
        assert old in strip, old
        strip = strip.replace(old, new, 1)
    dst.write_text(head + strip, encoding="latin-1")
    return dst


def _hl7(src: Path, dst: Path, pairs: list[tuple[str, str]], count: int = 1) -> Path:
    text = src.read_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new) if count < 0 else text.replace(old, new, count)
    dst.write_text(text)
    return dst


def _sierra(src: Path, dst: Path, attrs: dict[str, str] | None = None, payload: bytes | None = None) -> Path:
    raw = src.read_bytes()
    text = raw.decode("utf-16")
    i = text.index("<parsedwaveforms")
    j = text.index(">", i)
    tag = text[i:j]
    for k, v in (attrs or {}).items():
        start = tag.index(f'{k}="') + len(k) + 2
        tag = tag[:start] + v + tag[tag.index('"', start):]
    end = text.index("</parsedwaveforms>")
    body = text[j + 1:end] if payload is None else base64.b64encode(payload).decode()
    dst.write_bytes((text[:i] + tag + ">" + body + text[end:]).encode("utf-16"))
    return dst


def _dicom(src: Path, dst: Path, edit) -> Path:
    import pydicom

    ds = pydicom.dcmread(str(src))
    edit(ds)
    ds.save_as(str(dst))
    return dst


def _deflated_dicom(src: Path, dst: Path, inflated: int) -> Path:
    """A DICOM whose deflated data set inflates to ``inflated`` bytes of zeros (a decompression bomb)."""
    import pydicom

    meta = pydicom.dcmread(str(src)).file_meta
    meta.TransferSyntaxUID = "1.2.840.10008.1.2.1.99"
    buf = io.BytesIO()
    buf.write(b"\x00" * 128 + b"DICM")
    pydicom.filewriter.write_file_meta_info(pydicom.filebase.DicomFileLike(buf), meta, enforce_standard=True)
    comp = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(1 << 22)
    with open(dst, "wb") as fh:
        fh.write(buf.getvalue())
        for _ in range(inflated // len(zeros)):
            fh.write(comp.compress(zeros))
        fh.write(comp.flush())
    return dst


def write_hostile(folder: Path, fixtures: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    fx = fixtures / "ecg" / "formats"
    cases: dict[str, str] = {}

    # -- WFDB ----------------------------------------------------------------------------------
    _wfdb(folder, "count_overflow", record_line="count_overflow 12 500 1537228672809129301")
    cases["count_overflow.hea"] = "samples"
    sparse = folder / "big_signal.dat"
    with open(sparse, "wb") as fh:  # a 2 GiB signal file (sparse: no disk used)
        fh.truncate(2 << 30)
    _wfdb(folder, "names_big_file", files=["big_signal.dat"] * 12, write_dat=False,
          record_line="names_big_file 12 500")
    cases["names_big_file.hea"] = "record_bytes"
    _wfdb(folder, "escapes", files=["../../../../etc/passwd"] * 12, write_dat=False)
    cases["escapes.hea"] = "outside"
    _wfdb(folder, "absolute", files=["/etc/passwd"] * 12, write_dat=False)
    cases["absolute.hea"] = "outside"
    (folder / "a_directory").mkdir()
    _wfdb(folder, "names_directory", files=["a_directory"] * 12, write_dat=False)
    cases["names_directory.hea"] = "regular file"
    os.mkfifo(folder / "a_fifo")
    _wfdb(folder, "names_fifo", files=["a_fifo"] * 12, write_dat=False)
    cases["names_fifo.hea"] = "regular file"
    _wfdb(folder, "all_mmhg", units="mmHg")
    cases["all_mmhg.hea"] = "voltage"
    for tag, rate in (("nan", "nan"), ("inf", "inf"), ("neg", "-500"), ("absurd", "1e9"), ("zero", "0")):
        _wfdb(folder, f"fs_{tag}", record_line=f"fs_{tag} 12 {rate} 5000")
        cases[f"fs_{tag}.hea"] = "frequency|sampling rate"
    _wfdb(folder, "lying_count", record_line="lying_count 12 500 50000")
    cases["lying_count.hea"] = "truncated"
    (folder / "segments.hea").write_text("segments/2 12 500 10000\n../outside_seg 5000\nseg2 5000\n")
    cases["segments.hea"] = "outside"
    (folder / "binary.hea").write_bytes(bytes(range(256)) * 8)
    cases["binary.hea"] = "binary|header|record"
    (folder / "empty_record.hea").write_text("# only a comment\n")
    cases["empty_record.hea"] = "record line|header"

    # -- NumPy ---------------------------------------------------------------------------------
    _npz_bomb(folder / "bomb.npz", (12, 12_500_000))  # 600 MB of zeros in ~0.6 MB
    cases["bomb.npz"] = "decoded_bytes"
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "<f4", "fortran_order": False, "shape": (12, 2 ** 33)})
    _zip(folder / "declares_huge.npz", {"signal.npy": hdr.getvalue() + bytes(64),
                                        "fs.npy": _npy(np.asarray(500.0))})
    cases["declares_huge.npz"] = "samples"
    (folder / "declares_huge.npy").write_bytes(hdr.getvalue() + bytes(64))
    cases["declares_huge.npy"] = "samples"
    sig = np.zeros((12, 5000), np.float32)
    _zip(folder / "pickled.npz", {"signal.npy": _npy(np.array([{"x": 1}] * 3, dtype=object), allow_pickle=True),
                                  "fs.npy": _npy(np.asarray(500.0))})
    cases["pickled.npz"] = "pickle"
    for tag, rate in (("nan", np.nan), ("inf", np.inf), ("neg", -500.0), ("zero", 0.0), ("absurd", 1e12)):
        _npz(folder / f"fs_{tag}.npz", signal=sig, fs=np.float64(rate))
        cases[f"fs_{tag}.npz"] = "sampling rate"
    _npz(folder / "fs_many.npz", signal=sig, fs=np.full(7, 500.0))
    cases["fs_many.npz"] = "one sampling rate"
    _npz(folder / "dx_huge.npz", signal=sig, fs=500.0, dx=np.zeros(100_000, np.int8))
    cases["dx_huge.npz"] = "meta_values"
    raw = (folder / "fs_nan.npz").read_bytes()
    (folder / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    cases["truncated.npz"] = "zip|npz"
    _zip(folder / "many_members.npz", {f"member_{i:06d}_{'x' * 60}.npy": b"" for i in range(20_000)}, level=1)
    cases["many_members.npz"] = "directory"
    _npz(folder / "three_d.npz", signal=np.zeros((2, 12, 5000), np.float32), fs=500.0)
    cases["three_d.npz"] = "leads, samples"
    _npz(folder / "complex.npz", signal=np.zeros((12, 5000), np.complex64), fs=500.0)
    cases["complex.npz"] = "real number"

    # -- XML -----------------------------------------------------------------------------------
    cs = fx / "cardiosoft_ukb_style.xml"
    _cardiosoft(cs, folder / "cs_negative_resolution.xml",
                **{'<Resolution units="uVperLsb">5<': '<Resolution units="uVperLsb">-5<'})
    cases["cs_negative_resolution.xml"] = "positive"
    for tag, rate in (("nan", "NaN"), ("zero", "0"), ("neg", "-500"), ("inf", "inf")):
        _cardiosoft(cs, folder / f"cs_fs_{tag}.xml", **{'<SampleRate units="Hz">500<': f'<SampleRate units="Hz">{rate}<'})
        cases[f"cs_fs_{tag}.xml"] = "SampleRate"
    _cardiosoft(cs, folder / "cs_count_nan.xml", **{"<ChannelSampleCountTotal>5000<": "<ChannelSampleCountTotal>nan<"})
    cases["cs_count_nan.xml"] = "ChannelSampleCountTotal"
    with open(folder / "element_bomb.xml", "w") as fh:  # 2 million empty elements in 8 MB
        fh.write("<?xml version='1.0'?><CardiologyXML>")
        fh.write("<a/>" * 2_000_000)
        fh.write("</CardiologyXML>")
    cases["element_bomb.xml"] = "xml_elements"
    with open(folder / "huge.xml", "wb") as fh:  # 65 MiB (sparse tail of NULs after the root)
        fh.write(b"<?xml version='1.0'?><CardiologyXML></CardiologyXML>")
        fh.truncate(65 << 20)
    cases["huge.xml"] = "xml_bytes"
    entity = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">' +
              "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
              + ']>\n<CardiologyXML><x>&lol9;</x></CardiologyXML>\n')
    (folder / "entity_bomb.xml").write_text(entity)
    cases["entity_bomb.xml"] = "entit"
    (folder / "bad_encoding.xml").write_bytes(b"<?xml version='1.0' encoding='utf-8'?><CardiologyXML>\xff\xfe\x80"
                                              b"</CardiologyXML>")
    cases["bad_encoding.xml"] = "XML"
    hl7 = fx / "hl7_aecg_example.xml"
    _hl7(hl7, folder / "hl7_increment_nan.xml", [('<increment value="0.002" unit="s"/>',
                                                 '<increment value="NaN" unit="s"/>')])
    cases["hl7_increment_nan.xml"] = "increment"
    _hl7(hl7, folder / "hl7_increment_tiny.xml", [('<increment value="0.002" unit="s"/>',
                                                  '<increment value="1e-300" unit="s"/>')])
    cases["hl7_increment_tiny.xml"] = "sampling rate"
    _hl7(hl7, folder / "hl7_mmhg.xml", [('<scale value="2.5" unit="uV"/>', '<scale value="2.5" unit="mm[Hg]"/>')],
         count=-1)
    cases["hl7_mmhg.xml"] = "voltage"
    _hl7(hl7, folder / "hl7_negative_scale.xml", [('<scale value="2.5" unit="uV"/>', '<scale value="-2.5" unit="uV"/>')])
    cases["hl7_negative_scale.xml"] = "positive"
    sierra = fx / "philips_sierra_1.xml"
    bomb = struct.pack("<iHh", 1_500_000, 0, 0) + np.random.default_rng(1).integers(0, 256, 1_500_000, np.uint8).tobytes()
    _sierra(sierra, folder / "sierra_xli_bomb.xml", payload=bomb)
    cases["sierra_xli_bomb.xml"] = "decoded_bytes"
    _sierra(sierra, folder / "sierra_fs_nan.xml", {"samplespersecond": "NaN"})
    cases["sierra_fs_nan.xml"] = "sampling rate"
    _sierra(sierra, folder / "sierra_long.xml", {"durationperchannel": "1e12"})
    cases["sierra_long.xml"] = "samples"
    _sierra(sierra, folder / "sierra_leads.xml", {"numberofleads": "1000000000"})
    cases["sierra_leads.xml"] = "numberofleads"
    _sierra(sierra, folder / "sierra_resolution.xml", {"resolution": "-5"})
    cases["sierra_resolution.xml"] = "positive"
    _sierra(sierra, folder / "sierra_base64.xml", payload=None, attrs={"dataencoding": "Base64"})
    text = (folder / "sierra_base64.xml").read_bytes().decode("utf-16").replace("+QwAAAEAAAA", "!!!!", 1)
    (folder / "sierra_base64.xml").write_bytes(text.encode("utf-16"))
    cases["sierra_base64.xml"] = "Base64"

    # -- DICOM ---------------------------------------------------------------------------------
    dcm = fx / "dicom_waveform_ge_style.dcm"

    def group(ds):
        return ds.WaveformSequence[0]

    _dicom(dcm, folder / "dcm_huge_count.dcm", lambda ds: setattr(group(ds), "NumberOfWaveformSamples", 2 ** 31 - 1))
    cases["dcm_huge_count.dcm"] = "samples"
    _dicom(dcm, folder / "dcm_fs_zero.dcm", lambda ds: setattr(group(ds), "SamplingFrequency", "0"))
    cases["dcm_fs_zero.dcm"] = "SamplingFrequency"
    _dicom(dcm, folder / "dcm_fs_nan.dcm", lambda ds: setattr(group(ds), "SamplingFrequency", "NaN"))
    cases["dcm_fs_nan.dcm"] = "SamplingFrequency"

    def negative(ds):
        for ch in group(ds).ChannelDefinitionSequence:
            ch.ChannelSensitivity = "-1"

    _dicom(dcm, folder / "dcm_negative_sensitivity.dcm", negative)
    cases["dcm_negative_sensitivity.dcm"] = "positive"

    def mmhg(ds):
        for ch in group(ds).ChannelDefinitionSequence:
            ch.ChannelSensitivityUnitsSequence[0].CodeValue = "mm[Hg]"

    _dicom(dcm, folder / "dcm_mmhg.dcm", mmhg)
    cases["dcm_mmhg.dcm"] = "voltage"
    raw = dcm.read_bytes()
    (folder / "dcm_truncated.dcm").write_bytes(raw[: len(raw) // 3])
    cases["dcm_truncated.dcm"] = "DICOM|waveform"
    _deflated_dicom(dcm, folder / "dcm_deflate_bomb.dcm", 600 << 20)
    cases["dcm_deflate_bomb.dcm"] = "decoded_bytes"
    return cases


def _npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()
