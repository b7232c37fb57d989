"""The results schema: what an experiment runner (``cardionets reproduce``) fills and the report reads.

The runner stores PREDICTIONS only; every statistic is computed by :mod:`cardionets.eval.report`.
All fields are optional: a section whose field is empty is reported as "not run".

    Results
      models            display order, e.g. ["scratch", "ssl", "phen_sup", "cardionets", "cmr_ref"]
      reference         the model every other model is compared against (DeLong, permutation tests)
      screening         {task: {model: ScorePredictions}}            task e.g. "CAD", "HF", "CM", "PH"
      ratios            {task: {neg_per_pos: {model: ScorePredictions}}}   e.g. ratios["CAD"][5]["ssl"]
      label_efficiency  {task: {fraction: {model: ScorePredictions | PhenotypePredictions}}}
                        fraction of training labels in (0, 1]; task "phenotypes" holds PhenotypePredictions
      subtypes          {model: ScorePredictions} with y_score [N, C] (classes in ``subtype_classes``)
      phenotypes        {model: PhenotypePredictions}
      kfold             {task: {model: [ScorePredictions per fold]}}   (held-out predictions per fold)
      similarity        {model: SimilarityMaps}   cosine(ECG embedding, each CMR patch token), 6x6 grid
      embeddings        {model: EmbeddingSet}     test-set ECG embeddings for t-SNE
      generation        Generation | None         per-sample SSIM/PSNR/MAE/RMSE and cine strip images
      meta              free JSON-able dict (preset, cohort, seed, versions, timings, notes)

``Results.save(path)`` / ``Results.load(path)`` round-trip through one ``.npz`` (no pickle) so a
report can be rebuilt without re-running anything.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["ScorePredictions", "PhenotypePredictions", "SimilarityMaps", "EmbeddingSet", "Generation",
           "Results", "PAPER_MODELS"]

PAPER_MODELS = ["scratch", "ssl", "phen_sup", "cardionets", "cmr_ref"]


def _arr(x, dtype=None) -> np.ndarray | None:
    return None if x is None else np.asarray(x, dtype=dtype)


@dataclass
class ScorePredictions:
    """Test (and optionally validation) predictions of one model on one classification task.

    y_true: [N] 0/1 (binary) or class index (multi-class).
    y_score: [N] score of the positive class (a probability when calibration plots are wanted), or
             [N, C] class probabilities for multi-class.
    val_true / val_score: the same on the validation split; used only to choose the binary decision
             threshold (Youden's J). Without them the threshold is 0.5.
    """

    y_true: np.ndarray
    y_score: np.ndarray
    val_true: np.ndarray | None = None
    val_score: np.ndarray | None = None

    def __post_init__(self):
        self.y_true = _arr(self.y_true).astype(np.int64)
        self.y_score = _arr(self.y_score, np.float64)
        self.val_true = None if self.val_true is None else _arr(self.val_true).astype(np.int64)
        self.val_score = _arr(self.val_score, np.float64)
        if self.y_true.ndim != 1 or self.y_score.shape[0] != self.y_true.shape[0] or self.y_score.ndim > 2:
            raise InputError(f"ScorePredictions: y_true {self.y_true.shape} and y_score {self.y_score.shape} "
                             "must be [N] and [N] or [N, C]")
        if (self.val_true is None) != (self.val_score is None):
            raise InputError("ScorePredictions: give both val_true and val_score or neither")
        if self.val_true is not None and self.val_score.shape[0] != self.val_true.shape[0]:
            raise InputError(f"ScorePredictions: val_true {self.val_true.shape} and val_score "
                             f"{self.val_score.shape} differ in length")

    @property
    def multiclass(self) -> bool:
        return self.y_score.ndim == 2


@dataclass
class PhenotypePredictions:
    """y_true, y_pred: [N, P] in physical units (NaN = missing); names: P phenotype names."""

    y_true: np.ndarray
    y_pred: np.ndarray
    names: list[str]

    def __post_init__(self):
        self.y_true = np.atleast_2d(_arr(self.y_true, np.float64))
        self.y_pred = np.atleast_2d(_arr(self.y_pred, np.float64))
        self.names = [str(n) for n in self.names]
        if self.y_true.shape != self.y_pred.shape or self.y_true.shape[1] != len(self.names):
            raise InputError(f"PhenotypePredictions: y_true {self.y_true.shape}, y_pred {self.y_pred.shape} "
                             f"and {len(self.names)} names do not agree")


@dataclass
class SimilarityMaps:
    """similarity: [N, 6, 6] (or [N, 36]) cosine similarity between each subject's ECG embedding and
    each CMR patch token; frames: optional [N, H, W] CMR frame to draw beneath the map."""

    similarity: np.ndarray
    frames: np.ndarray | None = None

    def __post_init__(self):
        s = _arr(self.similarity, np.float64)
        if s.ndim == 2:
            g = int(round(np.sqrt(s.shape[1])))
            if g * g != s.shape[1]:
                raise InputError(f"SimilarityMaps: {s.shape[1]} patch tokens do not form a square grid")
            s = s.reshape(s.shape[0], g, g)  # [N, P] -> [N, g, g] row-major patch order
        if s.ndim != 3:
            raise InputError(f"SimilarityMaps: similarity must be [N, g, g] or [N, g*g], got {s.shape}")
        self.similarity = s
        self.frames = _arr(self.frames, np.float64)
        if self.frames is not None and (self.frames.ndim != 3 or self.frames.shape[0] != s.shape[0]):
            raise InputError(f"SimilarityMaps: frames {self.frames.shape} must be [N, H, W] with N = {s.shape[0]}")


@dataclass
class EmbeddingSet:
    """z: [N, D] embeddings; labels: [N] integer group (e.g. disease); label_names: name per label."""

    z: np.ndarray
    labels: np.ndarray
    label_names: list[str]

    def __post_init__(self):
        self.z = _arr(self.z, np.float64)
        self.labels = _arr(self.labels).astype(np.int64)
        self.label_names = [str(n) for n in self.label_names]
        if self.z.ndim != 2 or self.labels.shape != (self.z.shape[0],):
            raise InputError(f"EmbeddingSet: z {self.z.shape} must be [N, D] and labels [N], got {self.labels.shape}")


@dataclass
class Generation:
    """metrics: {name: per-sample values [N]} (e.g. SSIM, PSNR, MAE, RMSE); strips: image files
    (PNG/JPEG), each a generated-vs-real cine strip made by the generator stage; captions optional."""

    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    strips: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.metrics = {str(k): _arr(v, np.float64).ravel() for k, v in self.metrics.items()}
        self.strips = [str(p) for p in self.strips]
        self.captions = [str(c) for c in self.captions]


@dataclass
class Results:
    models: list[str] = field(default_factory=lambda: list(PAPER_MODELS))
    reference: str = "cardionets"
    screening: dict[str, dict[str, ScorePredictions]] = field(default_factory=dict)
    ratios: dict[str, dict[int, dict[str, ScorePredictions]]] = field(default_factory=dict)
    label_efficiency: dict[str, dict[float, dict[str, Any]]] = field(default_factory=dict)
    subtypes: dict[str, ScorePredictions] = field(default_factory=dict)
    subtype_classes: list[str] = field(default_factory=lambda: ["DCM", "HCM", "RCM"])
    phenotypes: dict[str, PhenotypePredictions] = field(default_factory=dict)
    kfold: dict[str, dict[str, list[ScorePredictions]]] = field(default_factory=dict)
    similarity: dict[str, SimilarityMaps] = field(default_factory=dict)
    embeddings: dict[str, EmbeddingSet] = field(default_factory=dict)
    generation: Generation | None = None
    meta: dict = field(default_factory=dict)

    def ordered(self, names) -> list[str]:
        """``names`` in the display order of ``models`` (unknown names last, alphabetically)."""
        names = list(names)
        known = [m for m in self.models if m in names]
        return known + sorted(n for n in names if n not in self.models)

    @classmethod
    def from_dict(cls, d: dict) -> "Results":
        """Build Results from plain nested dicts (same field names; predictions as dicts of arrays,
        e.g. ``{"screening": {"CAD": {"ssl": {"y_true": y, "y_score": s, "val_true": yv, "val_score": sv}}}}``);
        dataclass instances are accepted anywhere in place of their dict."""
        def score(x):
            return x if isinstance(x, ScorePredictions) else ScorePredictions(**x)

        def pheno(x):
            return x if isinstance(x, PhenotypePredictions) else PhenotypePredictions(**x)

        def any_pred(x):
            if isinstance(x, (ScorePredictions, PhenotypePredictions)):
                return x
            return pheno(x) if "y_pred" in x else score(x)

        known = {"models", "reference", "screening", "ratios", "label_efficiency", "subtypes", "subtype_classes",
                 "phenotypes", "kfold", "similarity", "embeddings", "generation", "meta"}
        unknown = set(d) - known
        if unknown:
            raise InputError(f"Results.from_dict: unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        kw: dict[str, Any] = {k: d[k] for k in ("models", "reference", "subtype_classes", "meta") if k in d}
        kw["screening"] = {t: {m: score(p) for m, p in v.items()} for t, v in d.get("screening", {}).items()}
        kw["ratios"] = {t: {int(r): {m: score(p) for m, p in v.items()} for r, v in rr.items()}
                        for t, rr in d.get("ratios", {}).items()}
        kw["label_efficiency"] = {t: {float(f): {m: any_pred(p) for m, p in v.items()} for f, v in ff.items()}
                                  for t, ff in d.get("label_efficiency", {}).items()}
        kw["subtypes"] = {m: score(p) for m, p in d.get("subtypes", {}).items()}
        kw["phenotypes"] = {m: pheno(p) for m, p in d.get("phenotypes", {}).items()}
        kw["kfold"] = {t: {m: [score(f) for f in folds] for m, folds in v.items()} for t, v in d.get("kfold", {}).items()}
        kw["similarity"] = {m: s if isinstance(s, SimilarityMaps) else SimilarityMaps(**s)
                            for m, s in d.get("similarity", {}).items()}
        kw["embeddings"] = {m: e if isinstance(e, EmbeddingSet) else EmbeddingSet(**e)
                            for m, e in d.get("embeddings", {}).items()}
        g = d.get("generation")
        kw["generation"] = None if g is None else (g if isinstance(g, Generation) else Generation(**g))
        return cls(**kw)

    # ------------------------------------------------------------------ persistence (npz, no pickle)
    def save(self, path: str | Path) -> Path:
        arrays: dict[str, np.ndarray] = {}
        counter = [0]

        def put(a) -> str | None:
            if a is None:
                return None
            key = f"a{counter[0]}"
            counter[0] += 1
            arrays[key] = np.asarray(a)
            return key

        def sp(p: ScorePredictions) -> dict:
            return {"kind": "score", "y_true": put(p.y_true), "y_score": put(p.y_score),
                    "val_true": put(p.val_true), "val_score": put(p.val_score)}

        def ph(p: PhenotypePredictions) -> dict:
            return {"kind": "phenotype", "y_true": put(p.y_true), "y_pred": put(p.y_pred), "names": p.names}

        def any_pred(p) -> dict:
            return sp(p) if isinstance(p, ScorePredictions) else ph(p)

        doc = {
            "version": 1, "models": self.models, "reference": self.reference,
            "subtype_classes": self.subtype_classes, "meta": self.meta,
            "screening": {t: {m: sp(p) for m, p in d.items()} for t, d in self.screening.items()},
            "ratios": {t: {str(r): {m: sp(p) for m, p in d.items()} for r, d in rr.items()}
                       for t, rr in self.ratios.items()},
            "label_efficiency": {t: {repr(float(f)): {m: any_pred(p) for m, p in d.items()} for f, d in ff.items()}
                                 for t, ff in self.label_efficiency.items()},
            "subtypes": {m: sp(p) for m, p in self.subtypes.items()},
            "phenotypes": {m: ph(p) for m, p in self.phenotypes.items()},
            "kfold": {t: {m: [sp(f) for f in folds] for m, folds in d.items()} for t, d in self.kfold.items()},
            "similarity": {m: {"similarity": put(s.similarity), "frames": put(s.frames)}
                           for m, s in self.similarity.items()},
            "embeddings": {m: {"z": put(e.z), "labels": put(e.labels), "label_names": e.label_names}
                           for m, e in self.embeddings.items()},
            "generation": None if self.generation is None else {
                "metrics": {k: put(v) for k, v in self.generation.metrics.items()},
                "strips": self.generation.strips, "captions": self.generation.captions},
        }
        arrays["__schema__"] = np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Results":
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        if "__schema__" not in arrays:
            raise InputError(f"{path}: not a CardioNets results file (no __schema__ entry)")
        doc = json.loads(arrays["__schema__"].tobytes().decode())

        def get(k):
            return None if k is None else arrays[k]

        def sp(d):
            return ScorePredictions(get(d["y_true"]), get(d["y_score"]), get(d["val_true"]), get(d["val_score"]))

        def ph(d):
            return PhenotypePredictions(get(d["y_true"]), get(d["y_pred"]), d["names"])

        def any_pred(d):
            return sp(d) if d["kind"] == "score" else ph(d)

        gen = doc["generation"]
        return cls(
            models=doc["models"], reference=doc["reference"], subtype_classes=doc["subtype_classes"],
            meta=doc["meta"],
            screening={t: {m: sp(p) for m, p in d.items()} for t, d in doc["screening"].items()},
            ratios={t: {int(r): {m: sp(p) for m, p in d.items()} for r, d in rr.items()}
                    for t, rr in doc["ratios"].items()},
            label_efficiency={t: {float(f): {m: any_pred(p) for m, p in d.items()} for f, d in ff.items()}
                              for t, ff in doc["label_efficiency"].items()},
            subtypes={m: sp(p) for m, p in doc["subtypes"].items()},
            phenotypes={m: ph(p) for m, p in doc["phenotypes"].items()},
            kfold={t: {m: [sp(f) for f in folds] for m, folds in d.items()} for t, d in doc["kfold"].items()},
            similarity={m: SimilarityMaps(get(s["similarity"]), get(s["frames"])) for m, s in doc["similarity"].items()},
            embeddings={m: EmbeddingSet(get(e["z"]), get(e["labels"]), e["label_names"])
                        for m, e in doc["embeddings"].items()},
            generation=None if gen is None else Generation(
                {k: get(v) for k, v in gen["metrics"].items()}, gen["strips"], gen["captions"]),
        )
