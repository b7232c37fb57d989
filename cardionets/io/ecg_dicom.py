"""DICOM 12-lead ECG waveform (Waveform Storage IODs), read with pydicom.

Checked before decoding: the file's size (``limits.record_bytes``), the inflated size of a deflated
data set (``limits.decoded_bytes``), and the group's channels x samples (``limits.samples``); the
sampling frequency must be valid, each channel's sensitivity finite and positive, and a channel
whose unit is not a voltage is dropped (``meta["dropped_signals"]``), not read as mV.
"""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .. import limits
from ..errors import InputError
from .ecg import ECG
from .units import check_fs, check_scale, keep_voltage
import pydicom

_DEFLATED = "1.2.840.10008.1.2.1.99"  # Deflated Explicit VR Little Endian


def _inflated_size(path: Path, offset: int) -> int:
    """Bytes the deflated data set after ``offset`` inflates to, stopping once past the limit."""
    cap = limits.current().decoded_bytes
    d = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    with open(path, "rb") as fh:
        fh.seek(offset)
        while total <= cap:
            chunk = d.unconsumed_tail or fh.read(1 << 16)
            if not chunk:
                break
            total += len(d.decompress(chunk, 1 << 20))
            if d.eof:
                break
    return total


def _check_deflated(path: Path, pydicom: Any) -> None:
    with open(path, "rb") as fh:
        fh.seek(128)
        if fh.read(4) != b"DICM":
            return
        meta = pydicom.filereader.read_file_meta_info(str(path))
        if str(meta.get("TransferSyntaxUID", "")) != _DEFLATED:
            return
    # the file meta group is not deflated: it ends after its group length
    length = int(meta.get("FileMetaInformationGroupLength", 0))
    offset = 132 + 12 + length
    limits.check(path, "bytes of the deflated data set, inflated", _inflated_size(path, offset), "decoded_bytes")


def read_dicom(path: Path) -> ECG:
    limits.check(path, "file bytes", path.stat().st_size, "record_bytes")
    try:
        _check_deflated(path, pydicom)
        ds = pydicom.dcmread(str(path))
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc})") from exc
    seq = getattr(ds, "WaveformSequence", None)
    if not seq:
        raise InputError(f"{path}: DICOM without a WaveformSequence (modality {ds.get('Modality')})")
    # The rhythm strip: the group labelled RHYTHM, else the longest one (median beats are short).
    sizes = []
    for i, g in enumerate(seq):
        try:
            sizes.append((int(g.NumberOfWaveformSamples), int(g.NumberOfWaveformChannels)))
        except (AttributeError, TypeError, ValueError):
            raise InputError(f"{path}: waveform group {i} lacks a valid sample or channel count") from None
    labels = [str(getattr(g, "MultiplexGroupLabel", "")).upper() for g in seq]
    idx = labels.index("RHYTHM") if "RHYTHM" in labels else max(range(len(seq)), key=lambda i: sizes[i][0])
    group = seq[idx]
    limits.check(path, f"values waveform group {idx} declares (channels x samples)",
                 sizes[idx][0] * sizes[idx][1], "samples")
    fs = check_fs(getattr(group, "SamplingFrequency", None), path, "SamplingFrequency")
    channels = list(getattr(group, "ChannelDefinitionSequence", None) or [])
    if len(channels) != sizes[idx][1]:
        raise InputError(f"{path}: waveform group {idx} declares {sizes[idx][1]} channels and defines {len(channels)}")
    names, units = [], []
    for k, ch in enumerate(channels):
        src = ch.ChannelSourceSequence[0] if getattr(ch, "ChannelSourceSequence", None) else None
        names.append(str(getattr(src, "CodeMeaning", "")) if src is not None else f"ch{k}")
        unit_seq = getattr(ch, "ChannelSensitivityUnitsSequence", None)
        units.append(str(unit_seq[0].CodeValue) if unit_seq else "uV")
        if "ChannelSensitivity" in ch:
            check_scale(ch.ChannelSensitivity, path, f"ChannelSensitivity of channel {names[-1] or k}")
    try:
        data = ds.waveform_array(idx).astype(np.float64).T  # [channels, samples], sensitivity applied
    except Exception as exc:
        raise InputError(f"{path}: cannot decode waveform group {idx} ({type(exc).__name__}: {exc})") from exc
    age = str(ds.get("PatientAge", "") or "")
    meta: dict[str, Any] = {
        "age": float(age[:-1]) if len(age) == 4 and age[:3].isdigit() and age[-1] == "Y" else None,
        "sex": {"M": "M", "F": "F"}.get(str(ds.get("PatientSex", "")), None),
        "date": str(ds.get("AcquisitionDateTime", "") or ds.get("StudyDate", "")) or None,
        "device": " ".join(str(x) for x in (ds.get("Manufacturer"), ds.get("ManufacturerModelName")) if x) or None,
        "sop_class": str(getattr(getattr(ds, "SOPClassUID", None), "name", ds.get("SOPClassUID"))),
    }
    signal, names = keep_voltage(data, names, units, meta, path, default="uV")
    return ECG(np.asarray(signal, np.float32), fs, names, meta)
