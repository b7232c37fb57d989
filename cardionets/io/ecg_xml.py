"""XML ECG formats: GE CardioSoft (UK Biobank), HL7 annotated ECG (aECG) and Philips Sierra XML
(its XLI-compressed waveforms are decoded natively, csrc/io/xli.cpp). Parsed with defusedxml.

Bounded before allocation: the file's size (``limits.xml_bytes``), its element count while parsing
(``limits.xml_elements``), the values each lead's text holds and the values the header declares
(``limits.samples``), a Base64 payload and the XLI decoder's worst-case output
(``limits.decoded_bytes``). Sampling rates must be valid (:func:`.units.check_fs`), resolutions and
scales finite and positive, and a lead in a unit that is not a voltage is dropped, not read as mV.
"""
from __future__ import annotations

import base64
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from .. import limits
from ..errors import InputError
from .ecg import ECG
from .units import check_fs, check_scale, mv_per_unit
from .. import native
from defusedxml import ElementTree as ET

# LZW with 10-bit codes: every code emits at most one dictionary string (<= 768 bytes) plus one byte
_XLI_BYTES_PER_INPUT_BYTE = 0.8 * 769


def _parse(path: Path):
    limits.check(path, "XML file bytes", path.stat().st_size, "xml_bytes")
    cap = limits.current().xml_elements
    n = 0
    try:
        it = ET.iterparse(str(path), events=("start",))
        for _ in it:
            n += 1
            if n > cap:
                limits.check(path, "XML elements", n, "xml_elements")
        root = it.root
    except InputError:
        raise
    except Exception as exc:  # ParseError, DefusedXmlException, encoding errors
        raise InputError(f"{path}: not well-formed XML ({type(exc).__name__}: {exc})") from exc
    for el in root.iter():  # drop namespaces: {urn:hl7-org:v3}sequence -> sequence
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def _text(el, path: str, default: str | None = None) -> str | None:
    node = el.find(path)
    if node is None or node.text is None or not node.text.strip():
        return default
    return node.text.strip()


def _number(text: str | None, what: str, source: Path) -> float:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{source}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{source}: {what} {text!r} is not a finite number")
    return value


_SEP = re.compile(r"[,\s]+")


def _count_values(text: str | None) -> int:
    """Values in a comma/space separated list, counted without splitting (bounds before parsing)."""
    t = (text or "").strip()
    return 0 if not t else len(_SEP.findall(t)) + 1


def _ints(text: str | None, what: str, source: Path) -> np.ndarray:
    parts = [p for p in _SEP.split(text or "") if p]
    try:
        return np.array([int(p) for p in parts], dtype=np.int64)
    except (ValueError, OverflowError):
        raise InputError(f"{source}: {what} holds non-integer or out-of-range samples") from None


def _check_values(counts: list[int], source: Path) -> None:
    limits.check(source, "sample values in the file's leads", sum(counts), "samples")


def _sex(value: str | None) -> str | None:
    v = (value or "").strip().lower()
    return {"m": "M", "male": "M", "f": "F", "female": "F"}.get(v)


# ----------------------------------------------------------------------------------------------
# GE CardioSoft XML (UK Biobank): <StripData><WaveformData lead="I">int,int,...</WaveformData>
# ----------------------------------------------------------------------------------------------
def read_cardiosoft(path: Path) -> ECG:
    root = _parse(path)
    strip = root.find("StripData")
    if strip is None:
        raise InputError(f"{path}: CardioSoft XML without <StripData> (no 10 s rhythm strip)")
    fs = check_fs(_number(_text(strip, "SampleRate"), "SampleRate", path), path, "SampleRate")
    res = check_scale(_number(_text(strip, "Resolution", "5"), "Resolution", path), path,
                      "Resolution (uV per LSB)")
    waves = strip.findall("WaveformData")
    if not waves:
        raise InputError(f"{path}: <StripData> holds no <WaveformData>")
    _check_values([_count_values(wf.text) for wf in waves], path)
    names, rows = [], []
    for wf in waves:
        names.append(wf.get("lead") or f"lead{len(names)}")
        rows.append(_ints(wf.text, f"WaveformData lead {names[-1]}", path))
    n = {len(r) for r in rows}
    if len(n) != 1:
        raise InputError(f"{path}: leads have different sample counts {sorted(n)}")
    declared = _text(strip, "ChannelSampleCountTotal")
    if declared is not None and _number(declared, "ChannelSampleCountTotal", path) != rows[0].size:
        raise InputError(f"{path}: ChannelSampleCountTotal says {declared} samples, leads hold {rows[0].size}")
    signal = np.stack(rows).astype(np.float64) * (res / 1000.0)
    meta: dict[str, Any] = {"device": _text(root, "ClinicalInfo/DeviceInfo/Desc"),
                            "software": _text(root, "ClinicalInfo/DeviceInfo/SoftwareVer")}
    age = _text(root, "PatientInfo/Age")
    meta["age"] = float(age) if age and age.replace(".", "", 1).isdigit() and len(age) < 8 else None
    meta["sex"] = _sex(_text(root, "PatientInfo/Gender"))
    dt = root.find("ObservationDateTime")
    if dt is not None:
        try:
            parts = {k: int(_text(dt, k) or 0) for k in ("Year", "Month", "Day", "Hour", "Minute", "Second")}
            meta["date"] = "{Year:04d}-{Month:02d}-{Day:02d}T{Hour:02d}:{Minute:02d}:{Second:02d}".format(**parts)
        except ValueError:
            pass
    meta["diagnosis"] = [t.text.strip() for t in root.findall("Interpretation/Diagnosis/DiagnosisText")
                         if t.text and t.text.strip()]
    meas = root.find("RestingECGMeasurements")
    if meas is not None:
        meta["measurements"] = {c.tag: float(c.text) for c in meas
                                if c.text and re.fullmatch(r"-?\d{1,12}(\.\d{1,12})?", c.text.strip())}
    return ECG(signal.astype(np.float32), fs, names, meta)


# ----------------------------------------------------------------------------------------------
# HL7 aECG: series(RHYTHM)/component/sequenceSet/component/sequence{code, value{origin, scale, digits}}
# ----------------------------------------------------------------------------------------------
def read_hl7(path: Path) -> ECG:
    root = _parse(path)
    series = root.findall(".//series")
    if not series:
        raise InputError(f"{path}: HL7 aECG without a <series>")
    chosen = next((s for s in series if (s.find("code") is not None and s.find("code").get("code") == "RHYTHM")),
                  series[0])
    seqset = chosen.find("component/sequenceSet")
    if seqset is None:
        raise InputError(f"{path}: the RHYTHM series has no <sequenceSet>")
    fs = None
    names, rows = [], []
    dropped: list[dict] = []
    sequences = seqset.findall("component/sequence")
    _check_values([_count_values(d.text) for seq in sequences if (d := seq.find("value/digits")) is not None], path)
    for seq in sequences:
        code = seq.find("code")
        value = seq.find("value")
        if code is None or value is None:
            continue
        c = code.get("code", "")
        if c.startswith("TIME_"):
            inc = value.find("increment")
            if inc is not None:
                step = _number(inc.get("value"), "time increment", path)
                unit = (inc.get("unit") or "s").lower()
                if unit not in ("s", "ms"):
                    raise InputError(f"{path}: time increment unit {unit!r} is not a time unit (s, ms)")
                step *= {"s": 1.0, "ms": 1e-3}[unit]
                if step <= 0:
                    raise InputError(f"{path}: time increment {step} s must be positive")
                fs = check_fs(1.0 / step, path, "sampling rate (1 / time increment)")
            continue
        origin = value.find("origin")
        scale = value.find("scale")
        digits = value.find("digits")
        if digits is None:
            continue
        unit = (scale.get("unit") if scale is not None else None) or "uV"
        mv = mv_per_unit(unit, default="uV")
        if mv is None:  # not a voltage (e.g. a blood-pressure channel): not an ECG lead
            dropped.append({"name": c, "unit": unit})
            continue
        sc = check_scale(_number(scale.get("value") if scale is not None else "1", "scale", path), path,
                         f"scale of {c}")
        og = _number(origin.get("value") if origin is not None else "0", "origin", path)
        d = _ints(digits.text, f"digits of {c}", path).astype(np.float64)
        rows.append((d * sc + og) * mv)
        names.append(c)
    if fs is None:
        raise InputError(f"{path}: no TIME_ABSOLUTE/TIME_RELATIVE sequence with an increment (sampling rate)")
    if not rows:
        raise InputError(f"{path}: no lead sequences in a voltage unit in the RHYTHM series"
                         + (f" (dropped: {dropped})" if dropped else ""))
    n = min(len(r) for r in rows)
    if max(len(r) for r in rows) != n:
        raise InputError(f"{path}: leads have different sample counts")
    meta: dict[str, Any] = {"device": None}
    if dropped:
        meta["dropped_signals"] = dropped
    gender = root.find(".//administrativeGenderCode")
    meta["sex"] = _sex(gender.get("code")) if gender is not None else None
    age = None
    for holder in root.iter():  # <subjectOf><code code="21612-7" (LOINC reported age)/><value value="46"/>
        code = holder.find("code")
        value = holder.find("value")
        if code is not None and value is not None and code.get("code") == "21612-7" and value.get("value"):
            try:
                age = float(value.get("value"))
            except ValueError:
                age = None
            age = age if age is not None and math.isfinite(age) else None
            break
    meta["age"] = age
    eff = root.find("effectiveTime/center")
    meta["date"] = eff.get("value") if eff is not None else None
    birth = root.find(".//birthTime")
    meta["birth_date"] = birth.get("value") if birth is not None else None
    return ECG(np.stack(rows).astype(np.float32), fs, names, meta)


# ----------------------------------------------------------------------------------------------
# Philips Sierra XML: <parsedwaveforms dataencoding="Base64" compression="XLI" ...>
# ----------------------------------------------------------------------------------------------
def read_sierra(path: Path) -> ECG:
    root = _parse(path)
    pw = root.find(".//parsedwaveforms")
    if pw is None:
        raise InputError(f"{path}: Sierra XML without <parsedwaveforms>")
    sig = root.find(".//signalcharacteristics")
    fs = check_fs(_number(pw.get("samplespersecond") or (_text(sig, "samplingrate") if sig is not None else None),
                          "sampling rate", path), path)
    res = check_scale(_number(pw.get("resolution") or (_text(sig, "resolution") if sig is not None else None) or "5",
                              "resolution", path), path, "resolution (uV per LSB)")
    n_leads = _number(pw.get("numberofleads") or "12", "numberofleads", path)
    if not (n_leads.is_integer() and 1 <= n_leads <= 64):
        raise InputError(f"{path}: numberofleads {pw.get('numberofleads')!r} is not a lead count in 1..64")
    n_leads = int(n_leads)
    labels = (pw.get("leadlabels") or "I II III aVR aVL aVF V1 V2 V3 V4 V5 V6").split()[:n_leads]
    duration_ms = _number(pw.get("durationperchannel"), "durationperchannel", path)
    if duration_ms <= 0:
        raise InputError(f"{path}: durationperchannel {duration_ms} ms must be positive")
    limits.check(path, "values the header declares (leads x duration x rate)", n_leads * duration_ms * fs / 1000.0,
                 "samples")
    n = int(round(duration_ms * fs / 1000.0))
    if (pw.get("dataencoding") or "Base64").lower() != "base64":
        raise InputError(f"{path}: waveform encoding {pw.get('dataencoding')!r} is not supported (Base64 only)")
    text = re.sub(r"\s+", "", pw.text or "")
    limits.check(path, "bytes of the Base64 waveform payload, decoded", len(text) * 3 // 4, "decoded_bytes")
    try:
        blob = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise InputError(f"{path}: waveform data is not valid Base64 ({exc})") from exc
    compression = (pw.get("compression") or pw.get("compressmethod") or "Uncompressed").upper()
    if compression == "XLI":
        limits.check(path, "worst-case bytes the XLI (LZW) data could decode to", len(blob) * _XLI_BYTES_PER_INPUT_BYTE,
                     "decoded_bytes")
        leads = native.load().xli_decode(blob, str(path), labels[:6] == ["I", "II", "III", "aVR", "aVL", "aVF"],
                                         max_output_bytes=limits.current().decoded_bytes)
        if len(leads) < n_leads:
            raise InputError(f"{path}: XLI data holds {len(leads)} leads, the header says {n_leads}")
        short = [labels[i] for i in range(n_leads) if len(leads[i]) < n]
        if short:
            raise InputError(f"{path}: XLI leads {', '.join(short)} decode to fewer than {n} samples")
        digital = np.stack([np.asarray(leads[i][:n]) for i in range(n_leads)])
    elif compression == "UNCOMPRESSED":
        raw = np.frombuffer(blob, dtype="<i2")
        if raw.size < n_leads * n:
            raise InputError(f"{path}: uncompressed waveform holds {raw.size} samples, need {n_leads} x {n}")
        digital = raw[: n_leads * n].reshape(n_leads, n)
    else:
        raise InputError(f"{path}: waveform compression {compression!r} is not supported (XLI, Uncompressed)")
    signal = digital.astype(np.float64) * (res / 1000.0)
    meta: dict[str, Any] = {}
    acq = root.find(".//dataacquisition")
    if acq is not None:
        meta["date"] = f"{acq.get('date', '')}T{acq.get('time', '')}".strip("T") or None
        machine = acq.find("machine")
        meta["device"] = (machine.text or "").strip() if machine is not None else None
    meta["sex"] = _sex(_text(root, ".//generalpatientdata/sex"))
    age_el = root.find(".//generalpatientdata/age")
    age = None
    if age_el is not None:
        years = _text(age_el, "years")
        age = float(years) if years and years.replace(".", "", 1).isdigit() else None
    meta["age"] = age
    meta["birth_date"] = _text(root, ".//generalpatientdata/age/dateofbirth")
    meta["diagnosis"] = [(_text(s, "leftstatement") or "") + ("; " + r if (r := _text(s, "rightstatement")) else "")
                         for s in root.findall(".//interpretation/statement")]
    meta["statement_codes"] = [_text(s, "statementcode") for s in root.findall(".//interpretation/statement")]
    meta["note"] = "Sierra strips end with the device's 1 mV calibration pulse"
    return ECG(signal.astype(np.float32), fs, labels, meta)
