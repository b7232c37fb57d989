"""One heart per subject: the orientation of its long axis in the chest, shared by the ECG (the
cardiac dipole turns with the heart) and the cine (the long axis' angle in the 4-chamber image).

Body axes are Frank's: x to the subject's left, y to the feet, z to the back. The LV long axis
(base -> apex) is given by two angles, as CMR studies report them:

* frontal-plane angle ``frontal_deg``: from horizontal (patient left) towards the feet; healthy
  adults +38 +- 10 deg (Engblom et al. 2005, Am Heart J 150:507, CMR in 94 volunteers);
* transverse-plane angle ``transverse_deg``: from patient left towards anterior, +46 +- 7 deg
  (same study).
Body habitus turns the heart: a higher BMI lies it more horizontally, mirrored by the electrical
axis ("Anatomical-electrical coupling of cardiac axes", PLoS Comput Biol 2025,
doi:10.1371/journal.pcbi.1013161: ~39,000 UK Biobank participants with paired CMR and ECG); older age
a little too. Here -0.9 deg per kg/m2 of BMI and -0.15 deg
per year in the frontal plane (approximate, chosen so the BMI and age trends of the QRS axis follow
the normal-limit studies).

How each modality sees it:
* ECG: every lobe of the heart vector is defined for the reference heart (38 deg, 46 deg) and turned
  by :attr:`Anatomy.rotation` (:func:`heart_rotation`: the frontal-angle difference in the frontal
  plane, then the transverse-angle difference in the transverse plane). The
  electrical axis also has conduction variability of its own (``ecg_model``), so anatomical and
  electrical frontal axes correlate weakly, as measured (partial r = 0.30 frontal, 0.14 transverse
  in Engblom et al.).
* Cine: the 4-chamber plane contains the long axis and is displayed anterior-up, patient-left on
  the right, close to a tilted transverse plane; the long axis' angle from the image vertical is
  then 90 deg - transverse angle (plus +-4 deg of plane-planning scatter).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .subjects import Subject

REF_FRONTAL = 38.0
REF_TRANSVERSE = 46.0


@dataclass
class Anatomy:
    frontal_deg: float
    transverse_deg: float
    cine_angle_deg: float          # long axis from the image vertical in the 4-chamber cine (apex up-right)
    rotation: np.ndarray           # [3, 3] body-frame rotation: reference heart -> this heart


def long_axis(frontal_deg: float, transverse_deg: float) -> np.ndarray:
    """Unit base -> apex vector in Frank axes (x left, y feet, z back)."""
    v = np.array([1.0, np.tan(np.deg2rad(frontal_deg)), -np.tan(np.deg2rad(transverse_deg))])
    return v / np.linalg.norm(v)


def heart_rotation(frontal_deg: float, transverse_deg: float) -> np.ndarray:
    """Rotation of the heart from the reference orientation: by the frontal-angle difference in the
    frontal plane (about the antero-posterior axis, positive towards the feet), then by the
    transverse-angle difference in the transverse plane (about the vertical axis, positive towards
    anterior)."""
    a, b = np.deg2rad(frontal_deg - REF_FRONTAL), np.deg2rad(transverse_deg - REF_TRANSVERSE)
    rz = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[np.cos(b), 0.0, np.sin(b)], [0.0, 1.0, 0.0], [-np.sin(b), 0.0, np.cos(b)]])
    return ry @ rz


def sample_anatomy(s: Subject, rng: np.random.Generator) -> Anatomy:
    frontal = REF_FRONTAL + 10.0 * rng.standard_normal() - 0.9 * (s.bmi - 26.2) - 0.15 * (s.age - 63.5)
    frontal = float(np.clip(frontal, 5.0, 75.0))
    transverse = float(np.clip(REF_TRANSVERSE + 7.0 * rng.standard_normal() - 0.3 * (s.bmi - 26.2), 25.0, 70.0))
    rot = heart_rotation(frontal, transverse)
    cine = float(90.0 - transverse + 4.0 * rng.standard_normal())
    return Anatomy(frontal, transverse, cine, rot)
