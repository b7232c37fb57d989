"""Real cohorts into the engine's cohort format (docs/cohorts.md): UK Biobank (:func:`ingest_ukb`)
and MIMIC-IV-ECG with MIMIC-IV hospital diagnoses (:func:`ingest_mimic_ecg`). Both write the
directory ``cardionets synth`` writes (:mod:`cardionets.data.manifest`), so ``finetune``,
``reproduce``, ``screen`` and ``evaluate`` read them unchanged."""
from __future__ import annotations

from .mimic import ingest_mimic_ecg
from .ukb import ingest_ukb

__all__ = ["ingest_mimic_ecg", "ingest_ukb"]
