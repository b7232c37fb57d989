"""Which fine-tuning runs the comparison needs (the experiment grid), per preset.

Every run uses the same fine-tuning recipe (``configs/finetune_<size>.yaml`` plus the grid's
``finetune_epochs`` and any user overrides), selects its epoch on validation and is scored once on
test. The tiny grid keeps the expensive parts (ratios, label fractions) to the main disease and to
the reference model plus the plain baselines, so the whole tiny run on 3,000 subjects stays near an
hour on 2 CPU cores; the base grid runs everything for every model.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..data.schema import DISEASES
from ..errors import InputError

MODELS = ("scratch", "ssl", "phen_sup", "cardionets", "cmr_ref")


@dataclass
class Grid:
    size: str = "tiny"  # model preset of every stage (configs/<stage>_<size>.yaml)
    models: tuple[str, ...] = MODELS
    screening: str = "multilabel"  # multilabel: one model per init screens all diseases; binary: one per disease
    diseases: tuple[str, ...] = DISEASES  # a disease with < min_positives test positives is reported as not run
    min_positives: int = 2
    main_disease: str = "CM"  # the disease of the ratio and label-efficiency studies
    ratios: tuple[int, ...] = (1, 2, 5, 10)  # negatives per positive (all splits sampled; DeLong within a ratio)
    ratio_models: tuple[str, ...] = ("scratch", "ssl", "cardionets")
    fractions: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 1.0)  # of the training labels
    fraction_task: str = "main"  # "main" (binary main disease) or "phenotypes"
    fraction_models: tuple[str, ...] = ("scratch", "cardionets")
    phenotypes: bool = True  # phenotype regression runs (off for cohorts without phenotype values)
    subtypes: bool = True  # DCM / HCM / RCM, every model
    kfold: int = 0  # k-fold cross-validation of the main disease (0: off; k >= 3: fold i test, fold i+1 val)
    kfold_models: tuple[str, ...] = ("scratch", "cardionets")
    finetune_epochs: int | None = 2  # None = the preset's epochs
    similarity_n: int = 32  # test subjects in the ECG-CMR similarity maps
    probe_n: int = 512  # training subjects for the baselines' ridge probe into the CMR space
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # {stage or "all": {key: value}}

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> "Grid":
        bad = [m for m in (*self.models, *self.ratio_models, *self.fraction_models, *self.kfold_models)
               if m not in MODELS]
        if bad:
            raise InputError(f"unknown model(s) {bad}; models: {', '.join(MODELS)}")
        if self.screening not in ("multilabel", "binary"):
            raise InputError(f"grid screening must be 'multilabel' or 'binary', got {self.screening!r}")
        if self.main_disease not in DISEASES or any(d not in DISEASES for d in self.diseases):
            raise InputError(f"diseases must be among {', '.join(DISEASES)}")
        if any(not 0 < f <= 1 for f in self.fractions):
            raise InputError(f"label fractions must be in (0, 1], got {self.fractions}")
        if any(int(r) < 1 for r in self.ratios):
            raise InputError(f"negative:positive ratios must be >= 1, got {self.ratios}")
        if self.kfold != 0 and int(self.kfold) < 3:
            raise InputError(f"kfold must be 0 (off) or >= 3 (a test, a validation and a training fold), got {self.kfold}")
        if self.fraction_task not in ("main", "phenotypes"):
            raise InputError(f"fraction_task must be 'main' or 'phenotypes', got {self.fraction_task!r}")
        return self


GRIDS: dict[str, Grid] = {
    "tiny": Grid(),
    "base": Grid(size="base", screening="binary", ratio_models=MODELS, fraction_models=MODELS, finetune_epochs=None,
                 similarity_n=64, probe_n=2000),
}


def grid_for(preset: str, **changes: Any) -> Grid:
    if preset not in GRIDS:
        raise InputError(f"unknown reproduce preset {preset!r}; presets: {', '.join(GRIDS)}")
    return replace(GRIDS[preset], **changes).validate()
