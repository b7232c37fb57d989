"""``reproduce``: the paper's comparison on one cohort, resumable, into one report.

Steps (each skipped when its output exists, so an interrupted run continues where it stopped):

1. pretrain_cmr, pretrain_ecg, align -- :func:`cardionets.train.pipeline.run_pipeline` with no
   fine-tuning tasks (a finished run directory is reused as it is);
2. fine-tuning runs of the grid (:mod:`.grid`), each with validation and test predictions
   (:func:`.finetune_run.run_finetune`): phenotypes, screening, negative:positive ratios, label
   fractions, cardiomyopathy subtypes and, when the grid asks for it, k-fold cross-validation of
   the main disease (fold i held out for test, fold i+1 for validation, the rest for training);
3. ECG-CMR similarity maps, t-SNE embeddings, the generator's metrics (``generator``);
4. :class:`~cardionets.eval.results.Results` -> :func:`~cardionets.eval.report.build_report`.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..data import PHENOTYPE_NAMES, Cohort, negative_sample
from ..errors import CardioNetsError, InputError
from ..eval.report import build_report
from ..eval.results import EmbeddingSet, PhenotypePredictions, Results, ScorePredictions, SimilarityMaps
from ..preprocess import PreprocessSpec
from ..train.config import load_config
from ..train.data import Subset
from ..train.pipeline import run_pipeline
from .finetune_run import is_done, run_finetune
from .generation import generation_results
from .grid import DISEASES, Grid, grid_for
from .similarity import similarity_maps
from tqdm import tqdm
from dataclasses import replace

PRETRAIN_RUNS = ("pretrain_cmr", "pretrain_ecg", "align")


def run_finished(run_dir: Path) -> bool:
    fj = Path(run_dir) / "fit.json"
    if not fj.is_file() or not (Path(run_dir) / "model.safetensors").is_file():
        return False
    return json.loads(fj.read_text()).get("status") in ("completed", "early_stopped")


@dataclass
class Job:
    run: str  # run directory name under runs/
    task: str  # finetune task
    init: str
    kind: str  # phenotypes | screening | ratio | fraction | subtypes | kfold
    key: Any = None  # ratio, fraction, or (k, fold) for kfold
    features: bool = False


def plan(grid: Grid) -> list[Job]:
    """Every fine-tuning run of the grid, in dependency order (the phenotype scratch model first:
    phen_sup screening models start from it). Duplicate run names are run once."""
    jobs: list[Job] = []
    ph_models = [m for m in grid.models if m != "phen_sup"]
    if "phen_sup" in grid.models or "phen_sup" in grid.fraction_models:
        ph_models = ["scratch"] + [m for m in ph_models if m != "scratch"]
    for m in ph_models if grid.phenotypes else ():
        jobs.append(Job(f"finetune_phenotypes_{m}", "phenotypes", m, "phenotypes"))
    if grid.screening == "multilabel":
        for m in grid.models:
            jobs.append(Job(f"finetune_diseases_{m}", "diseases", m, "screening", features=True))
    else:
        for d in grid.diseases:
            for m in grid.models:
                jobs.append(Job(f"finetune_disease_{d}_{m}", f"disease:{d}", m, "screening",
                                features=d == grid.main_disease))
    d = grid.main_disease
    for r in grid.ratios:
        for m in grid.ratio_models:
            jobs.append(Job(f"finetune_disease_{d}_ratio{int(r)}_{m}", f"disease:{d}", m, "ratio", int(r)))
    ftask = "phenotypes" if grid.fraction_task == "phenotypes" else f"disease:{d}"
    tname = ftask.replace(":", "_")
    for f in grid.fractions:
        for m in grid.fraction_models:
            if ftask == "phenotypes" and m == "phen_sup":
                continue
            pct = int(round(f * 100))
            run = f"finetune_{tname}_{m}" if pct == 100 else f"finetune_{tname}_frac{pct}_{m}"
            jobs.append(Job(run, ftask, m, "fraction", float(f)))
    if grid.subtypes:
        for m in grid.models:
            jobs.append(Job(f"finetune_cm_subtype_{m}", "cm_subtype", m, "subtypes"))
    k = int(grid.kfold)
    for i in range(k):
        for m in grid.kfold_models:
            jobs.append(Job(f"finetune_disease_{d}_fold{i + 1}of{k}_{m}", f"disease:{d}", m, "kfold", (k, i)))
    return jobs


def kfold_split(folds: list[np.ndarray], i: int) -> dict[str, np.ndarray]:
    """Fold ``i`` of k: test = folds[i], validation = folds[(i + 1) % k], training = the rest."""
    k = len(folds)
    v = (i + 1) % k
    return {"train": np.sort(np.concatenate([f for j, f in enumerate(folds) if j not in (i, v)])),
            "val": np.sort(folds[v]), "test": np.sort(folds[i])}


class _Data:
    """Cohort datasets, built on first use (ECG, CMR, paired), all on the same split."""

    def __init__(self, cohort_dir: Path, seed: int, spec: PreprocessSpec):
        self.cohort = Cohort(cohort_dir)
        self.seed, self.spec = seed, spec
        self._ds: dict[str, dict] = {}
        self._folds: dict[int, list[np.ndarray]] = {}

    def get(self, modality: str, fold: tuple[int, int] | None = None) -> dict:
        """The datasets of the 60/20/20 split, or with ``fold=(k, i)`` those of fold ``i`` of ``k``
        (subject-grouped, stratified folds of the whole cohort; :func:`kfold_split`)."""
        key = modality if fold is None else f"{modality}:fold{fold[1]}of{fold[0]}"
        if key not in self._ds:
            kw: dict[str, Any] = {"spec": self.spec}
            if modality in ("cmr", "paired"):
                kw["cmr_cache"] = True
            if fold is not None:
                k, i = fold
                if k not in self._folds:
                    self._folds[k] = self.cohort.kfold(k, seed=self.seed)
                kw["split"] = kfold_split(self._folds[k], i)
            self._ds[key] = self.cohort.datasets(modality, seed=self.seed, **kw)
        return self._ds[key]

    def splits(self, modality: str, disease: str | None = None, ratio: int | None = None) -> tuple:
        ds = self.get(modality)
        sets = (ds["train"], ds["val"], ds["test"])
        if ratio is None:
            return sets
        j = list(DISEASES).index(disease)
        out = []
        for k, s in enumerate(sets):  # every split sampled at the ratio (seeded per split)
            y = self.cohort.labels[np.asarray(s.indices), j]
            out.append(Subset(s, negative_sample(y, ratio, seed=self.seed + 101 * k).tolist()))
        return tuple(out)

    def labels(self, split: str, disease: str) -> np.ndarray:
        idx = self.get("ecg")["split"][split]
        return self.cohort.labels[np.asarray(idx), list(DISEASES).index(disease)].astype(np.int64)


def _score(pred: dict, split: str, col: int | None) -> tuple[np.ndarray, np.ndarray]:
    p, t = pred[f"{split}_pred"], pred[f"{split}_target"]
    if col is not None:
        p, t = p[:, col], t[:, col]
    return t.reshape(-1).astype(np.int64), p.reshape(-1) if p.ndim == 1 or p.shape[1] == 1 else p


def _screen_preds(pred: dict, col: int | None):
    yt, ys = _score(pred, "test", col)
    vt, vs = _score(pred, "val", col)
    if len(np.unique(vt)) < (2 if ys.ndim == 1 else 1):  # Youden needs both classes; else the 0.5 rule (noted)
        vt = vs = None
    return ScorePredictions(y_true=yt, y_score=ys, val_true=vt, val_score=vs)


def reproduce(cohort_dir: str | Path, out: str | Path, preset: str = "tiny", *, grid: Grid | None = None,
              generator: str | Path | None = None, runs_dir: str | Path | None = None, seed: int = 0,
              n_boot: int = 1000, n_perm: int = 10000, progress: bool = True, device: str = "auto",
              echo: Callable[[str], None] = print) -> dict:
    """Run (or resume) the comparison; returns {"report": html path, "results_json", "seconds", "not_run"}.
    ``device`` (auto | cpu | cuda[:N]) runs every training, the similarity maps and the generator there
    (a ``device`` override in ``grid.overrides`` wins for the training runs)."""
    t_start = time.perf_counter()
    grid = (grid or grid_for(preset)).validate()
    cohort_dir, out = Path(cohort_dir), Path(out)
    if not cohort_dir.is_dir():
        raise InputError(f"cohort directory {cohort_dir} not found (write one with `cardionets synth`)")
    grid, pretrain, skipped = restrict_to_cohort(grid, cohort_dir)
    runs = Path(runs_dir) if runs_dir else out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    overrides = {k: dict(v) for k, v in grid.overrides.items()}
    overrides.setdefault("all", {}).setdefault("seed", seed)
    overrides["all"].setdefault("device", device)
    timings: dict[str, float] = {}
    not_run: dict[str, str] = dict(skipped)

    # 1. pretraining and alignment (the method's pipeline, no fine-tuning)
    t0 = time.perf_counter()
    if all(run_finished(runs / r) for r in pretrain):
        echo(f"pretraining: reusing {', '.join(pretrain)} in {runs}")
    else:
        run_pipeline(cohort_dir, runs, size=grid.size, tasks=(), overrides=overrides, progress=progress, echo=echo,
                     pretrain=pretrain)
    timings["pretraining"] = time.perf_counter() - t0
    sources = {"ssl": runs / "pretrain_ecg", "cardionets": runs / "align", "cmr_ref": runs / "pretrain_cmr",
               "phen_sup": runs / "finetune_phenotypes_scratch"}

    def finetune_cfg(job: Job):
        over = {"cohort_dir": str(cohort_dir), "out_dir": str(runs / job.run), "progress": progress,
                **overrides.get("all", {})}
        if grid.finetune_epochs:  # beats "all" overrides, not "finetune" ones
            over["epochs"] = grid.finetune_epochs
        over.update(overrides.get("finetune", {}))
        over.update({"finetune.task": job.task, "finetune.init": job.init})
        if job.kind == "fraction":
            over["finetune.label_fraction"] = job.key
        if job.init != "scratch":
            over["finetune.init_from"] = str(sources[job.init])
        return load_config("finetune", grid.size, overrides=over)

    base_cfg = load_config("finetune", grid.size, overrides={**overrides.get("all", {}), **overrides.get("finetune", {})})
    data = _Data(cohort_dir, base_cfg.seed, base_cfg.preprocess)
    res = Results(models=list(grid.models), meta={"preset": preset, "cohort": str(cohort_dir), "seed": seed,
                                                  "model size": grid.size, "screening": grid.screening})
    res.reference = next((m for m in ("cardionets", "ssl", "scratch") if m in grid.models), res.reference)

    # 2. fine-tuning grid
    jobs = plan(grid)
    seen: dict[str, dict] = {}
    bar = None
    if progress:
        bar = tqdm(total=len(jobs), desc="reproduce: fine-tuning runs", unit="run")
    for job in jobs:
        label = f"{job.kind}:{job.task}:{job.init}" + (f":{job.key}" if job.key is not None else "")
        try:
            if job.run not in seen:
                t0 = time.perf_counter()
                state = ("reused" if is_done(runs / job.run) else
                         "evaluated (its finished training reused)" if run_finished(runs / job.run) else "trained")
                mod = "cmr" if job.init == "cmr_ref" else "ecg"
                if job.kind == "kfold":
                    ds = data.get(mod, fold=job.key)
                    sets = (ds["train"], ds["val"], ds["test"])
                else:
                    sets = data.splits(mod, grid.main_disease if job.kind == "ratio" else None,
                                       job.key if job.kind == "ratio" else None)
                seen[job.run] = run_finetune(finetune_cfg(job), *sets, features=job.features)
                timings[job.run] = time.perf_counter() - t0
                echo(f"  {job.run}: {state} ({timings[job.run]:.0f} s)")
            _collect(res, job, seen[job.run], grid, data, EmbeddingSet, PhenotypePredictions)
        except CardioNetsError as exc:  # e.g. too few subjects with a label for one batch
            not_run[label] = str(exc)
            echo(f"  {job.run}: not run ({exc})")
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    _finish_kfold(res, grid, not_run)

    # 3. interpretability maps, generator
    t0 = time.perf_counter()
    sim_models = [m for m in ("scratch", "ssl", "cardionets") if m in grid.models]
    if sim_models and grid.similarity_n > 0:
        sim_file = out / "similarity.npz"
        try:
            if sim_file.is_file():
                with np.load(sim_file) as z:
                    res.similarity = {m: SimilarityMaps(z[f"{m}_sim"], z["frames"]) for m in sim_models if f"{m}_sim" in z}
            else:
                p = data.get("paired")
                res.similarity = _similarity(runs, p, grid, seed, sim_models, device)
                np.savez(sim_file, frames=next(iter(res.similarity.values())).frames,
                         **{f"{m}_sim": v.similarity for m, v in res.similarity.items()})
        except CardioNetsError as exc:
            not_run["similarity"] = str(exc)
    timings["similarity"] = time.perf_counter() - t0
    if generator is not None:
        t0 = time.perf_counter()
        res.generation = generation_results(generator, data.get("paired")["test"], out / "generation", seed=seed,
                                            device=device)
        timings["generation"] = time.perf_counter() - t0
    else:
        not_run["generation"] = "no --generator run directory given"

    # 4. report
    not_run.update(res.meta.pop("not_run", {}))  # diseases without enough test positives
    res.meta["why_not_run"] = _section_reasons(not_run, grid)
    res.meta.update({"fine-tuning runs": len(seen), "not run": len(not_run), "not_run": not_run})
    res.meta["grid"] = {k: v for k, v in grid.to_dict().items() if k != "overrides"}
    t0 = time.perf_counter()
    files = build_report(res, out, n_boot=n_boot, n_perm=n_perm, seed=seed,
                         progress=(lambda s: echo(f"  report: {s}")) if progress else None)
    timings["report"] = time.perf_counter() - t0
    total = time.perf_counter() - t_start
    summary = {"report": str(files.html), "results_json": str(out / "results.json"), "seconds": timings,
               "total_seconds": total, "not_run": not_run, "runs_dir": str(runs)}
    (out / "reproduce.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def restrict_to_cohort(grid: Grid, cohort_dir: Path) -> tuple[Grid, tuple[str, ...], dict[str, str]]:
    """The grid, pretraining runs and "not run" reasons for what the cohort holds: without cines
    (ECG-only cohorts such as MIMIC-IV-ECG) no CMR pretraining, alignment, cardionets / cmr_ref
    models or similarity maps; without phenotype values no phenotype runs or phen_sup model."""
    c = Cohort(cohort_dir)
    has_cmr, has_phen = bool(c.usable("cmr").any()), bool(np.isfinite(c.phenotypes).any())
    drop, why = set(), {}
    if not has_cmr:
        drop |= {"cardionets", "cmr_ref"}
        why["models:cardionets,cmr_ref"] = "the cohort has no usable cine: no CMR pretraining or alignment"
        why["similarity"] = "the cohort has no usable cine"
    if not has_phen:
        drop |= {"phen_sup"}
        why["phenotypes"] = "the cohort holds no phenotype values (no phenotype regression, no phen_sup model)"
    if not drop:
        return grid, PRETRAIN_RUNS, {}

    def keep(models):
        return tuple(m for m in models if m not in drop)

    grid = replace(grid, models=keep(grid.models), ratio_models=keep(grid.ratio_models),
                   fraction_models=keep(grid.fraction_models), kfold_models=keep(grid.kfold_models),
                   phenotypes=grid.phenotypes and has_phen,
                   fraction_task=grid.fraction_task if has_phen else "main",
                   similarity_n=grid.similarity_n if has_cmr else 0)
    return grid, (PRETRAIN_RUNS if has_cmr else ("pretrain_ecg",)), why


def _finish_kfold(res, grid: Grid, not_run: dict[str, str]) -> None:
    """Keep a model's k-fold results only with every fold present and two classes in each test
    fold (else list it in ``not_run``), and note how the folds were made."""
    for d, per_model in list(res.kfold.items()):
        for m, folds in list(per_model.items()):
            missing = [i + 1 for i, f in enumerate(folds) if f is None]
            one_class = [i + 1 for i, f in enumerate(folds) if f is not None and len(np.unique(f.y_true)) < 2]
            if missing or one_class:
                not_run[f"kfold:{d}:{m}"] = (f"fold(s) {missing} of {len(folds)} did not run" if missing else
                                             f"test fold(s) {one_class} hold a single class (no AUC)")
                del per_model[m]
        if not per_model:
            del res.kfold[d]
    if grid.kfold:
        res.meta["kfold_note"] = (
            f"{grid.kfold} subject-grouped folds of the whole cohort, stratified by disease: fold i is the test "
            f"set, fold i+1 the validation set (epoch choice, threshold), the other {grid.kfold - 2} train. "
            "The pretrained encoders (ssl, cardionets, cmr_ref inits) saw the unlabelled ECGs/CMRs of the "
            "60/20/20 split's training subjects, so a test fold can hold subjects whose recordings (never their "
            "labels) pretrained them" + ("; with k = 5 fold 5 is the split's own test set, which they never saw."
                                         if grid.kfold == 5 else "."))


def _collect(res, job: Job, pred: dict, grid: Grid, data: _Data, EmbeddingSet, PhenotypePredictions) -> None:
    """Put one run's predictions where the Results schema wants them."""
    if job.kind == "phenotypes" or (job.kind == "fraction" and job.task == "phenotypes"):
        scaler = data.get("ecg")["scaler"]
        pp = PhenotypePredictions(scaler.inverse(pred["test_target"]), scaler.inverse(pred["test_pred"]),
                                  list(PHENOTYPE_NAMES))
        if job.kind == "phenotypes":
            res.phenotypes[job.init] = pp
            if job.init == "scratch" and "phen_sup" in grid.models:
                res.phenotypes["phen_sup"] = pp  # the phenotype-supervised model is the scratch phenotype model
        else:
            res.label_efficiency.setdefault("phenotypes", {})[job.key] = \
                {**res.label_efficiency.get("phenotypes", {}).get(job.key, {}), job.init: pp}
            if job.init == "scratch" and "phen_sup" in grid.fraction_models:
                res.label_efficiency["phenotypes"][job.key]["phen_sup"] = pp
        return
    if job.kind == "screening":
        cols = [(d, DISEASES.index(d)) for d in grid.diseases] if job.task == "diseases" else [(job.task.split(":")[1], None)]
        for d, col in cols:
            sp = _screen_preds(pred, col)
            if int(sp.y_true.sum()) < grid.min_positives or int(sp.y_true.sum()) == len(sp.y_true):
                res.meta.setdefault("not_run", {})[f"screening:{d}"] = \
                    f"{int(sp.y_true.sum())} positive test subjects (need {grid.min_positives})"
                continue
            res.screening.setdefault(d, {})[job.init] = sp
        if job.features and "test_feature" in pred:
            d = grid.main_disease
            y = data.labels("test", d)
            if len(y) == len(pred["test_feature"]):
                res.embeddings[job.init] = EmbeddingSet(pred["test_feature"], y, [f"no {d}", d])
    elif job.kind == "ratio":
        res.ratios.setdefault(grid.main_disease, {}).setdefault(job.key, {})[job.init] = _screen_preds(pred, None)
    elif job.kind == "fraction":
        res.label_efficiency.setdefault(grid.main_disease, {}).setdefault(job.key, {})[job.init] = _screen_preds(pred, None)
    elif job.kind == "kfold":
        k, i = job.key
        folds = res.kfold.setdefault(grid.main_disease, {}).setdefault(job.init, [None] * k)
        folds[i] = _screen_preds(pred, None)
    elif job.kind == "subtypes":
        res.subtypes[job.init] = ScorePredictions(
            y_true=pred["test_target"].reshape(-1).astype(np.int64), y_score=pred["test_pred"],
            val_true=pred["val_target"].reshape(-1).astype(np.int64), val_score=pred["val_pred"])


def _similarity(runs: Path, paired: dict, grid: Grid, seed: int, models, device: str) -> dict:
    return similarity_maps({r: runs / r for r in PRETRAIN_RUNS}, paired["train"], paired["test"], size=grid.size,
                           n=grid.similarity_n, probe_n=grid.probe_n, seed=seed, models=tuple(models), device=device)


def _section_reasons(not_run: dict[str, str], grid: Grid) -> dict[str, str]:
    """Report-section explanations for what the grid could not run (shown instead of a bare "not run")."""
    why: dict[str, str] = {}
    if not grid.kfold:
        why["kfold"] = ("k-fold cross-validation was not requested (the grid uses one seeded 60/20/20 split; "
                        "`cardionets reproduce --kfold 5` adds it; docs/reproduce.md)")
    sections = {"subtypes": "subtypes", "ratio": "ratios", "fraction": "label_efficiency", "screening": "screening",
                "phenotypes": "phenotypes", "similarity": "similarity", "generation": "generation",
                "kfold": "kfold"}
    for label, msg in not_run.items():
        sec = sections.get(label.split(":", 1)[0])
        if sec:
            why[sec] = f"{why[sec]}; " if sec in why else ""
            why[sec] += f"{label}: {msg}"
            if sec == "screening":
                why["roc"] = why["calibration"] = why["screening"]
    return why
