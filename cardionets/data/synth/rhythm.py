"""Rhythm and conduction of a synthetic subject, and the beat sequence of a 10 s recording.

Prevalences (a middle-aged to older, UK Biobank imaging-like population; approximate, rounded from
the cited studies):

* atrial fibrillation on the resting ECG: ~1.5% at 64 years, doubling every ~9 years of age (the
  Rotterdam Study: 0.7% at 55-59 rising to 17.8% at >= 85, Heeringa et al. 2006, Eur Heart J
  27:949), x1.5 in men, x4 with heart failure, x3 with a cardiomyopathy, x1.5 with hypertension.
  Ventricular response 78 +- 12 bpm (rate-controlled), irregularly irregular RR (CV ~0.2), no P
  waves, fibrillatory waves of 0.02-0.08 mV at 5-7 Hz;
* premature atrial contractions: frequent in 50-79 year olds on Holter (median ~2.5/h, a tail of
  >= 30/h; Conen et al. 2012, Circulation 126:2302): here 12% of subjects are "ectopic" with a rate
  log-uniform in 0.3-8 /min, so ~4% of 10 s recordings show one;
* premature ventricular contractions: ~6% of 2-minute strips in middle age (ARIC: Simpson et al.
  2002, Am Heart J 143:535), more with age, heart failure and infarction: 6% "ectopic" subjects,
  0.3-8 /min;
* complete right bundle branch block ~1.2% (men 1.6%, women 0.6%; rising with age; Bussink et al.
  2013, Eur Heart J 34:138), x3 with pulmonary hypertension; left anterior fascicular block ~1.5%;
  left bundle branch block as the disease model sets it (DCM 50%, HFrEF 30%, else 0.6%);
* minor nonspecific ST-T changes (low or flat T waves) in ~8% at 64 years, more with age, as in
  population ECG surveys of older adults (approximate).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .diseases import DiseaseState
from .subjects import Subject
from datetime import timedelta


def sample_rhythm(s: Subject, d: DiseaseState, rng: np.random.Generator) -> None:
    """Set the rhythm and conduction fields of ``d`` (AF, ectopy rates, RBBB, LAFB, nonspecific
    ST-T changes); a subject in AF also gets an I48.9 code dated before imaging."""
    age = s.age - 63.5
    p_af = 0.015 * np.exp(0.077 * age) * (1.5 if s.male else 0.75) / 1.2
    p_af *= (4.0 if d.hf else 1.0) * (3.0 if d.cm else 1.0) * (1.5 if d.hypertension else 1.0)
    d.af = bool(rng.random() < min(p_af, 0.6))
    ect_scale = np.exp(0.04 * age) * (2.0 if d.hf else 1.0)
    d.pac_per_min = float(np.exp(rng.uniform(np.log(0.3), np.log(8.0)))) if rng.random() < 0.12 * ect_scale else 0.0
    d.pvc_per_min = (float(np.exp(rng.uniform(np.log(0.3), np.log(8.0))))
                     if rng.random() < 0.06 * ect_scale * (2.0 if d.mi_territory else 1.0) else 0.0)
    p_rbbb = (0.016 if s.male else 0.006) * np.exp(0.04 * age) * (3.0 if d.ph else 1.0)
    d.rbbb = bool(not d.lbbb and rng.random() < p_rbbb)
    d.lafb = bool(not d.lbbb and rng.random() < 0.015 * np.exp(0.03 * age))
    d.st_t_nonspecific = bool(rng.random() < 0.08 * np.exp(0.04 * age))
    if d.af and not any(code.startswith("I48") for code, _ in d.diagnoses):
        d.diagnoses.append(("I48.9", s.imaging_date - timedelta(days=int(rng.integers(0, 3000)))))


@dataclass
class Beats:
    times: np.ndarray     # R-peak times (s), covering [-1, duration + 1]
    kinds: np.ndarray     # "N" sinus, "A" premature atrial, "V" premature ventricular, "F" conducted AF


def beat_sequence(hr: float, age: float, d: DiseaseState, rng: np.random.Generator,
                  duration: float) -> Beats:
    """R-peak times and beat kinds: sinus rhythm with respiratory sinus arrhythmia and jitter, or
    AF; premature atrial (non-compensatory pause: the sinus node resets) and ventricular beats
    (compensatory pause: the sinus timeline continues) at the subject's ectopy rates."""
    rr = 60.0 / hr
    t = -rng.uniform(0.0, rr) - 1.0
    if d.af:
        times, kinds = [], []
        while t < duration + 1.0:
            times.append(t)
            kinds.append("F")
            t += float(np.clip(rr * np.exp(0.22 * rng.standard_normal() - 0.024), 0.33, 2.0))
        return Beats(np.asarray(times), np.asarray(kinds))
    rsa = 0.045 * float(np.clip(1.0 - (age - 40.0) / 70.0, 0.2, 1.0)) * rng.uniform(0.3, 1.3)
    f_resp, phase = rng.uniform(0.18, 0.3), rng.uniform(0, 2 * np.pi)
    p_a = d.pac_per_min / 60.0 * rr
    p_v = d.pvc_per_min / 60.0 * rr
    clock = t                                  # the sinus node's last discharge
    times, kinds = [t], ["N"]
    while times[-1] < duration + 1.0:
        step = rr * (1.0 + rsa * np.sin(2 * np.pi * f_resp * clock + phase) + 0.01 * rng.standard_normal())
        nxt = clock + step
        u = rng.random()
        if kinds[-1] == "N" and u < p_v + p_a:
            early = times[-1] + rng.uniform(0.45, 0.65) * (nxt - times[-1]) if u < p_v else \
                times[-1] + rng.uniform(0.6, 0.8) * (nxt - times[-1])
            times.append(early)
            kinds.append("V" if u < p_v else "A")
            # PVC: the sinus beat due at nxt falls in the refractory period, the node keeps its
            # timing (compensatory pause); PAC: the node is reset by the early atrial beat
            clock = nxt if u < p_v else early + step * rng.uniform(0.0, 0.1)
            continue
        times.append(nxt)
        kinds.append("N")
        clock = nxt
    return Beats(np.asarray(times), np.asarray(kinds))
