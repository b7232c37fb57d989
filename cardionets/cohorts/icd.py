"""ICD codes of hospital records -> the engine's diagnoses table.

ICD-10 codes go in as they are: the disease rule lives in :mod:`cardionets.data.schema` /
:mod:`cardionets.data.labels` (CAD I20-I25, CM I42-I43 with subtypes, HF I50, PH I27, a diagnosis
counting only when dated on or before the exam). ICD-9 codes (MIMIC-IV before October 2015, UK
Biobank fields 41271/41281) are mapped by the data table ``icd9_diseases.csv`` beside this file,
keyed by the same disease names: each row maps an ICD-9 range (3-, 4- or 5-character prefixes,
longest match wins) to the ICD-10 code that counts for the same disease, which is what the row
carries in the ``icd10`` column; its own code stays in ``code`` with ``icd_version`` 9. Rows of the
table naming a disease the engine does not define are ignored, so a new disease only needs its
ICD-9 row. ICD-9 codes outside the table keep ``icd10`` empty and never count.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..data.schema import DISEASES

TABLE = Path(__file__).with_name("icd9_diseases.csv")


def normalise_code(code) -> str:
    """'I25.1' / ' i251 ' / '414.01' -> 'I251' / '41401' (upper case, no dot or space); '' for missing."""
    if code is None:
        return ""
    s = str(code).strip().upper().replace(".", "").replace(" ", "")
    return "" if s in ("NAN", "NONE", "NA") else s


@dataclass(frozen=True)
class Icd9Rule:
    disease: str
    lo: str
    hi: str
    icd10: str


@lru_cache(maxsize=1)
def icd9_rules() -> tuple[Icd9Rule, ...]:
    """The rows of ``icd9_diseases.csv`` whose disease the engine defines, longest prefixes first."""
    with open(TABLE, newline="") as fh:
        rows = [Icd9Rule(r["disease"], r["icd9_from"], r["icd9_to"], r["icd10"]) for r in csv.DictReader(fh)]
    rows = [r for r in rows if r.disease in DISEASES]
    return tuple(sorted(rows, key=lambda r: -len(r.lo)))


def icd9_to_icd10(code) -> str:
    """The ICD-10 code an ICD-9 code counts as ('' when it counts for no disease)."""
    c = normalise_code(code)
    if not c or c[0] in "EV":                   # supplementary classifications: never a disease here
        return ""
    for r in icd9_rules():
        head = c[:len(r.lo)]
        if len(head) == len(r.lo) and r.lo <= head <= r.hi:
            return r.icd10
    return ""


def to_icd10(code, version: int) -> str:
    """The ``icd10`` column value of a diagnosis row of ICD ``version`` 9 or 10."""
    return normalise_code(code) if int(version) == 10 else icd9_to_icd10(code)


__all__ = ["TABLE", "Icd9Rule", "icd9_rules", "icd9_to_icd10", "normalise_code", "to_icd10"]
