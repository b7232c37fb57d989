"""DICOM 12-lead ECG waveform (Waveform Storage IODs), read with pydicom."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .ecg import ECG

_UNIT_MV = {"uv": 1e-3, "mv": 1.0, "v": 1e3}


def read_dicom(path: Path) -> ECG:
    import pydicom

    try:
        ds = pydicom.dcmread(str(path))
    except Exception as exc:
        raise InputError(f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc})") from exc
    seq = getattr(ds, "WaveformSequence", None)
    if not seq:
        raise InputError(f"{path}: DICOM without a WaveformSequence (modality {ds.get('Modality')})")
    # The rhythm strip: the group labelled RHYTHM, else the longest one (median beats are short).
    labels = [str(getattr(g, "MultiplexGroupLabel", "")).upper() for g in seq]
    idx = labels.index("RHYTHM") if "RHYTHM" in labels else max(
        range(len(seq)), key=lambda i: int(seq[i].NumberOfWaveformSamples))
    group = seq[idx]
    try:
        data = ds.waveform_array(idx).astype(np.float64).T  # [channels, samples], sensitivity applied
    except Exception as exc:
        raise InputError(f"{path}: cannot decode waveform group {idx} ({type(exc).__name__}: {exc})") from exc
    names, scale = [], []
    for ch in group.ChannelDefinitionSequence:
        src = ch.ChannelSourceSequence[0] if getattr(ch, "ChannelSourceSequence", None) else None
        names.append(str(getattr(src, "CodeMeaning", "")) if src is not None else f"ch{len(names)}")
        unit_seq = getattr(ch, "ChannelSensitivityUnitsSequence", None)
        unit = str(unit_seq[0].CodeValue) if unit_seq else "uV"
        scale.append(_UNIT_MV.get(unit.lower(), 1e-3))
    signal = data * np.asarray(scale)[:, None]
    age = str(ds.get("PatientAge", "") or "")
    meta: dict[str, Any] = {
        "age": float(age[:-1]) if len(age) == 4 and age[:3].isdigit() and age[-1] == "Y" else None,
        "sex": {"M": "M", "F": "F"}.get(str(ds.get("PatientSex", "")), None),
        "date": str(ds.get("AcquisitionDateTime", "") or ds.get("StudyDate", "")) or None,
        "device": " ".join(str(x) for x in (ds.get("Manufacturer"), ds.get("ManufacturerModelName")) if x) or None,
        "sop_class": str(getattr(ds.SOPClassUID, "name", ds.SOPClassUID)),
    }
    return ECG(signal.astype(np.float32), float(group.SamplingFrequency), names, meta)
