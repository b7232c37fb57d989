"""Stage configurations: dataclasses with YAML presets (``cardionets/configs/<stage>_<size>.yaml``).

One :class:`TrainConfig` serves the four stages; its stage-specific sections (``mae``, ``align``,
``finetune``) are read only by their stage. Precedence: dataclass defaults < preset YAML <
user YAML file < ``--set key.sub=value`` overrides.
"""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..device.spec import PRECISIONS, parse_device_spec
from ..errors import InputError
from ..preprocess import DEFAULT_SPEC, PreprocessSpec

STAGES = ("pretrain_cmr", "pretrain_ecg", "align", "finetune")
SIZES = ("tiny", "base")
INITS = ("scratch", "ssl", "phen_sup", "cardionets", "cmr_ref")
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


@dataclass
class OptimConfig:
    lr: float = 1e-3  # peak learning rate for the global batch
    weight_decay: float = 0.05  # AdamW; not applied to biases, norms and embeddings
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_epochs: float = 1.0  # linear warm-up, then cosine to min_lr_ratio * lr
    min_lr_ratio: float = 0.01
    grad_clip: float = 1.0  # max global gradient norm (0 = off)
    ema_decay: float = 0.0  # exponential moving average of the weights (0 = off); evaluated when on


@dataclass
class MAEConfig:
    """Masked pretraining (pretrain_cmr and pretrain_ecg)."""
    mask_ratio: float = 0.75
    norm_loss: bool = True  # CMR: per-patch normalised pixels (MAE norm_pix_loss); ECG: per-patch normalised samples
    decoder_width: int = 0  # 0 = the size preset's decoder
    decoder_depth: int = 0


@dataclass
class AlignConfig:
    cmr_from: str | None = None  # pretrain_cmr run directory (its CMR encoder is frozen, eval mode)
    ecg_init_from: str | None = None  # pretrain_ecg run directory (ST-MEM init, as in the paper); None = scratch
    pca_dim: int = 128  # phi = PCA of CMR CLS embeddings, fitted on the training split only
    sigma: float = 1.0  # in units of the median pairwise phi distance on the training split (see docs/method.md)
    tau: float = 0.1  # InfoNCE temperature
    cmr_projector: bool = False  # also learn a projection of the frozen CMR embedding (default: the CLS space is the target)
    standardize_cmr: bool = True  # z-score the frozen CLS targets with training-split statistics (removes the shared direction)
    proj_hidden: int = 0  # projector hidden width (0 = max(in, out))


@dataclass
class FinetuneConfig:
    task: str = "phenotypes"  # phenotypes | diseases | disease:<CAD|HF|CM|PH|PERI> | cm_subtype
    init: str = "scratch"  # scratch | ssl | phen_sup | cardionets | cmr_ref
    init_from: str | None = None  # run directory the encoder comes from (all inits but scratch)
    head_dropout: float = 0.1
    balance: bool = True  # positive-class weight n_neg / n_pos for binary/multi-label screening
    label_fraction: float = 1.0  # fraction of training subjects with labels (label-efficiency study)


@dataclass
class TrainConfig:
    stage: str = "finetune"
    size: str = "tiny"
    seed: int = 0
    epochs: int = 10
    batch_size: int = 32  # global batch (split evenly across DDP processes)
    eval_batch_size: int = 64
    optim: OptimConfig = field(default_factory=OptimConfig)
    encoder: dict[str, Any] = field(default_factory=dict)  # overrides of the encoder preset (dropout, drop_path, ...)
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N (cardionets.device)
    # auto: bf16 autocast on CUDA (fp16 + gradient scaler on GPUs without bf16), fp32 on the CPU (CPU bf16
    # autocast measured slower than fp32 here, docs/method.md) | fp32 | bf16 (CPU or CUDA autocast) | fp16 (CUDA)
    precision: str = "auto"
    patience: int = 0  # early stopping: epochs without a better validation loss (0 = off)
    num_workers: int = 0
    # how ECGs become model input (filter, rate, crops; preprocess.n_crops: test-time crops, averaged).
    # The legacy key eval_crops sets preprocess.n_crops.
    preprocess: PreprocessSpec = DEFAULT_SPEC
    cohort_dir: str | None = None
    out_dir: str = "runs/train"
    log_every: int = 10  # steps between CSV log rows
    checkpoint_every: int = 0  # steps between resumable checkpoints (0 = end of every epoch only)
    stop_after: int = 0  # stop (resumably) after this many optimiser steps in total (0 = run to the end)
    tensorboard: bool = False
    progress: bool = True
    mae: MAEConfig = field(default_factory=MAEConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def validate(self, require_inputs: bool = True) -> "TrainConfig":
        """Check values; ``require_inputs`` also checks that the runs a stage starts from are named."""
        if self.stage not in STAGES:
            raise InputError(f"unknown stage {self.stage!r}; stages: {', '.join(STAGES)}")
        if self.size not in SIZES:
            raise InputError(f"unknown model size {self.size!r}; presets: {', '.join(SIZES)}")
        check_device_precision(self.device, self.precision)
        if self.stage == "finetune" and self.finetune.init not in INITS:
            raise InputError(f"unknown finetune init {self.finetune.init!r}; inits: {', '.join(INITS)}")
        if require_inputs and self.stage == "finetune" and self.finetune.init != "scratch" and not self.finetune.init_from:
            raise InputError(f"finetune init {self.finetune.init!r} needs finetune.init_from (a run directory)")
        if require_inputs and self.stage == "align" and not self.align.cmr_from:
            raise InputError("align needs align.cmr_from: the pretrain_cmr run directory")
        if self.batch_size < 2:
            raise InputError("batch_size must be at least 2")
        return self

    @property
    def eval_crops(self) -> int:
        """Test-time crops per ECG (``preprocess.n_crops``)."""
        return self.preprocess.n_crops

    def to_dict(self) -> dict:
        d = asdict(self)
        d["preprocess"] = self.preprocess.to_dict()
        return d


def check_device_precision(device: str, precision: str) -> None:
    """Spelling checks of the ``device`` and ``precision`` keys (whether the device exists is checked
    when a stage starts, by :func:`cardionets.device.resolve_device`)."""
    parse_device_spec(device)
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def _coerce(value: Any, typ: Any) -> Any:
    """Convert a YAML / command-line value to the annotated field type (str annotations)."""
    t = str(typ)
    if isinstance(value, str):
        low = value.strip().lower()
        if "bool" in t and low in ("true", "false", "1", "0", "yes", "no"):
            return low in ("true", "1", "yes")
        if low in ("none", "null") and "None" in t:
            return None
        if t.startswith("int"):
            return int(value)
        if t.startswith("float"):
            return float(value)
        if t.startswith("tuple"):
            return tuple(float(v) for v in value.strip("()[] ").split(","))
        if t.startswith("dict"):
            return yaml.safe_load(value)
    if t.startswith("tuple") and isinstance(value, list):
        return tuple(value)
    if t.startswith("float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _merge(obj: Any, data: dict, where: str) -> None:
    known = {f.name: f for f in fields(obj)}
    for key, value in data.items():
        if key == "eval_crops" and "preprocess" in known:  # legacy spelling of preprocess.n_crops
            key, value = "preprocess", {"n_crops": value}
        if key not in known:
            raise InputError(f"{where}: unknown config key {key!r}; known: {', '.join(known)}")
        cur = getattr(obj, key)
        if isinstance(cur, PreprocessSpec):  # frozen: a validated copy with the changes
            if not isinstance(value, dict):
                raise InputError(f"{where}: {key} must be a mapping")
            setattr(obj, key, PreprocessSpec.from_dict({**cur.to_dict(), **value}, f"{where}.{key}"))
        elif dataclasses.is_dataclass(cur):
            if not isinstance(value, dict):
                raise InputError(f"{where}: {key} must be a mapping")
            _merge(cur, value, f"{where}.{key}")
        elif isinstance(cur, dict) and isinstance(value, dict):  # free-form (encoder overrides): parse strings as YAML
            setattr(obj, key, {**cur, **{k: yaml.safe_load(v) if isinstance(v, str) else v for k, v in value.items()}})
        else:
            setattr(obj, key, _coerce(value, known[key].type))


def preset_path(stage: str, size: str) -> Path:
    return CONFIG_DIR / f"{stage}_{size}.yaml"


def from_dict(data: dict, where: str = "config") -> TrainConfig:
    cfg = TrainConfig()
    _merge(cfg, data, where)
    return cfg


def apply_layers(cfg: Any, preset: dict | None, preset_name: str, path: str | Path | None = None,
                 overrides: list[str] | dict | None = None) -> Any:
    """Merge the config layers into the dataclass ``cfg`` in place and return it: ``preset`` (a mapping,
    named ``preset_name`` in errors; None = no preset) < YAML file ``path`` < ``overrides``
    (``key.sub=value`` strings or a {dotted key: value} mapping). Used by :func:`load_config` and by the
    generator's config loader so both stack their layers the same way."""
    if preset is not None:
        _merge(cfg, preset, preset_name)
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise InputError(f"config file {p} not found")
        _merge(cfg, yaml.safe_load(p.read_text()) or {}, str(p))
    items = overrides.items() if isinstance(overrides, dict) else [_split_override(o) for o in (overrides or [])]
    for key, value in items:
        nested: dict = {}
        cur = nested
        parts = key.split(".")
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
        cur[parts[-1]] = value
        _merge(cfg, nested, "override")
    return cfg


def load_config(stage: str, size: str = "tiny", path: str | Path | None = None,
                overrides: list[str] | dict | None = None) -> TrainConfig:
    """Defaults < preset ``configs/<stage>_<size>.yaml`` < ``path`` < ``overrides`` (``key.sub=value``)."""
    stage = stage.replace("-", "_")
    cfg = TrainConfig(stage=stage, size=size)
    preset = preset_path(stage, size)
    preset_data = (yaml.safe_load(preset.read_text()) or {}) if preset.exists() else None
    apply_layers(cfg, preset_data, str(preset), path, overrides)
    cfg.stage = stage
    return cfg.validate(require_inputs=False)


def _split_override(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise InputError(f"override {text!r} is not key=value (e.g. optim.lr=3e-4)")
    k, v = text.split("=", 1)
    return k.strip(), v.strip()


def save_config(cfg: TrainConfig, path: Path) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
