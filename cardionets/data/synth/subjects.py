"""Latent subjects of the synthetic cohort: age, sex, body size, heart rate, imaging date.

Figures (UK Biobank imaging visit, approximate): participants aged 45-82 at imaging, mean about 64
(SD ~7.5), 48% men (Littlejohns et al. 2020, Nat Commun 11:2624, the UKB imaging enhancement);
adult British height (men 176 +- 7 cm, women 163 +- 6.5 cm) and BMI about 26.5 +- 4.2 kg/m2 in the
imaging cohort; resting heart rate during CMR about 63 +- 10 bpm. Body surface area by Mosteller
(BSA = sqrt(height_cm * weight_kg / 3600)).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .anatomy import Anatomy

IMAGING_START = date(2014, 5, 1)   # UKB imaging visits began in 2014
IMAGING_DAYS = 2130                # ... up to early 2020


@dataclass
class Subject:
    index: int
    subject_id: str
    age: float          # years at imaging
    male: bool
    height: float       # cm
    weight: float       # kg
    bsa: float          # m^2
    bmi: float          # kg/m^2
    hr: float           # bpm at imaging
    imaging_date: date
    latent: dict[str, float] = field(default_factory=dict)  # standard-normal factors
    anatomy: "Anatomy | None" = None     # heart orientation, shared by the ECG and the cine (anatomy.py)

    @property
    def sex(self) -> str:
        return "Male" if self.male else "Female"


def sample_subject(index: int, rng: np.random.Generator, prefix: str = "SYN") -> Subject:
    male = bool(rng.random() < 0.48)
    age = float(np.clip(rng.normal(63.5, 7.5), 45.0, 82.0))
    height = float(rng.normal(176.0, 7.0) if male else rng.normal(163.0, 6.5))
    bmi = float(np.clip(np.exp(rng.normal(np.log(26.2), 0.155)), 16.0, 50.0))
    weight = bmi * (height / 100.0) ** 2
    bsa = float(np.sqrt(height * weight / 3600.0))
    hr = float(np.clip(rng.normal(63.0, 10.0), 42.0, 110.0))
    day = int(rng.integers(0, IMAGING_DAYS))
    latent = {k: float(rng.standard_normal()) for k in
              ("size", "ef", "wall", "rv", "rvef", "la", "laef", "ra", "raef", "strain", "shape")}
    return Subject(index=index, subject_id=f"{prefix}{index:06d}", age=age, male=male, height=height,
                   weight=weight, bsa=bsa, bmi=bmi, hr=hr,
                   imaging_date=IMAGING_START + timedelta(days=day), latent=latent)
