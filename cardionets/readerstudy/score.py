"""``reader-study score``: filled case sheets against the key.

Real vs generated, per reader and pooled over readers (every read counted once; reads of one case
by several readers are not independent, so the pooled interval is narrower than a model of reader
and case variance would give):

* accuracy with a Wilson 95% interval and the exact binomial p-value against chance (50%);
* the 2 x 2 confusion matrix, truth (real / generated) x answer (real / generated);
* sensitivity = generated cases answered "generated" / generated cases, specificity = real cases
  answered "real" / real cases, each with a Wilson interval
  (:func:`cardionets.eval.intervals.wilson_interval`);
* with a confidence on every answer: the AUC of the graded answer (+confidence for "generated",
  -confidence for "real") with a bootstrap interval (:func:`cardionets.eval.intervals.bootstrap_auc`);
* agreement with two or more readers: Cohen's kappa for each pair (cases both answered) and
  Fleiss' kappa (cases every reader answered), :mod:`.statistics`.

Disease studies: per reader and for the model (its prediction from the ECG, when the key has one),
accuracy, sensitivity and specificity with Wilson intervals on all cases and on the real and the
generated cases separately; reader against model on the same cases with McNemar's exact test;
agreement between readers on the disease answers.
"""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..eval.intervals import bootstrap_auc, wilson_interval
from .blinding import compare_fingerprint
from .pack import load_key
from .sheet import Sheet, read_sheet
from .statistics import chance_p_value, cohen_kappa, fleiss_kappa, mcnemar_exact

SUBSETS = ("all", "real", "generated")


def _rate(k: int, n: int) -> dict:
    iv = wilson_interval(k, n)
    return {"k": int(k), "n": int(n)} | iv.as_dict()


def source_block(truth: np.ndarray, answer: np.ndarray, confidence: np.ndarray | None, seed: int = 0) -> dict:
    """Real-vs-generated numbers for one set of reads; truth/answer 0 = real, 1 = generated."""
    t, a = np.asarray(truth, dtype=bool), np.asarray(answer, dtype=bool)
    correct = int(np.sum(t == a))
    conf = {"truth_real": {"answer_real": int(np.sum(~t & ~a)), "answer_generated": int(np.sum(~t & a))},
            "truth_generated": {"answer_real": int(np.sum(t & ~a)), "answer_generated": int(np.sum(t & a))}}
    out = {"n": int(t.size), "accuracy": _rate(correct, t.size), "p_vs_chance": chance_p_value(correct, t.size),
           "confusion": conf,
           "sensitivity": _rate(conf["truth_generated"]["answer_generated"], int(t.sum())),
           "specificity": _rate(conf["truth_real"]["answer_real"], int((~t).sum())),
           "answered_generated": int(a.sum())}
    if confidence is not None and t.any() and not t.all():
        graded = np.where(a, 1.0, -1.0) * np.asarray(confidence, dtype=np.float64)
        out["graded_auc"] = bootstrap_auc(t, graded, n_boot=1000, seed=seed).as_dict()
        out["mean_confidence"] = float(np.mean(confidence))
    return out


def disease_block(label: np.ndarray, answer: np.ndarray) -> dict:
    y, a = np.asarray(label, dtype=bool), np.asarray(answer, dtype=bool)
    return {"n": int(y.size), "accuracy": _rate(int(np.sum(y == a)), y.size),
            "sensitivity": _rate(int(np.sum(y & a)), int(y.sum())),
            "specificity": _rate(int(np.sum(~y & ~a)), int((~y).sum())),
            "positives": int(y.sum())}


def _agreement(sheets: list[Sheet], attr: str, cases: list[str]) -> dict | None:
    if len(sheets) < 2:
        return None
    pairs = []
    for s1, s2 in combinations(sheets, 2):
        a1, a2 = getattr(s1, attr), getattr(s2, attr)
        common = [c for c in cases if c in a1 and c in a2]
        k = cohen_kappa([a1[c] for c in common], [a2[c] for c in common]) if common else None
        pairs.append({"readers": [s1.reader, s2.reader], "n": len(common), "cohen_kappa": k})
    every = [c for c in cases if all(c in getattr(s, attr) for s in sheets)]
    fk = fleiss_kappa([[getattr(s, attr)[c] for s in sheets] for c in every]) if every else None
    ks = [p["cohen_kappa"] for p in pairs if p["cohen_kappa"] is not None]
    return {"cohen_pairs": pairs, "mean_cohen_kappa": float(np.mean(ks)) if ks else None,
            "fleiss_kappa": fk, "fleiss_n_cases": len(every), "n_readers": len(sheets)}


def score_sheets(key_path: str | Path, sheet_paths: list[str | Path], *, pack: str | Path | None = None,
                 allow_blank: bool = False) -> dict:
    """Validate every sheet and compute the results (module docstring); JSON-ready."""
    key = load_key(key_path)
    if pack is not None:
        compare_fingerprint(Path(pack), key)
    if not sheet_paths:
        raise InputError("no sheets given (--sheets SHEET.csv ...)")
    disease = key.get("disease")
    cases = key["cases"]
    ids = [c["case_id"] for c in cases]
    truth = {c["case_id"]: int(c["truth"] == "generated") for c in cases}
    label = {c["case_id"]: c.get("disease_label") for c in cases}
    model = {c["case_id"]: c.get("model_prediction") for c in cases if c.get("model_prediction") is not None}
    if disease and any(label[c] not in (0, 1) for c in ids):
        raise InputError(f"{key_path}: a disease study's key needs a 0/1 disease_label for every case")
    sheets = [read_sheet(p, ids, key["pack_id"], disease, allow_blank) for p in sheet_paths]
    names: dict[str, Path] = {}
    for s in sheets:
        if s.reader in names:
            raise InputError(f"reader {s.reader!r} names two sheets ({names[s.reader]} and {s.path}); "
                             "fill the reader column or rename a file")
        names[s.reader] = s.path

    def reads(s: Sheet, subset: list[str]):
        done = [c for c in subset if c in s.source]
        conf = ([s.confidence[c] for c in done] if done and all(c in s.confidence for c in done) else None)
        return done, conf

    readers = []
    pooled_t, pooled_a, pooled_c, all_conf = [], [], [], True
    for i, s in enumerate(sheets):
        done, conf = reads(s, ids)
        if not done:
            raise InputError(f"{s.path}: no case answered")
        t = [truth[c] for c in done]
        a = [s.source[c] for c in done]
        entry = {"reader": s.reader, "sheet": str(s.path), "answered": len(done), "blank": len(s.blank),
                 "source": source_block(np.array(t), np.array(a), None if conf is None else np.array(conf), seed=i)}
        pooled_t += t
        pooled_a += a
        if conf is None:
            all_conf = False
        else:
            pooled_c += conf
        if disease:
            entry["disease"] = _disease_for(s, ids, truth, label, model)
        readers.append(entry)
    results = {
        "pack_id": key["pack_id"], "pack_sha256": key["pack_sha256"], "disease": disease,
        "cases": {"n": len(ids), "real": sum(1 for c in ids if truth[c] == 0),
                  "generated": sum(1 for c in ids if truth[c] == 1)},
        "readers": readers,
        "pooled": {"reads": len(pooled_t),
                   "source": source_block(np.array(pooled_t), np.array(pooled_a),
                                          np.array(pooled_c) if all_conf else None, seed=len(sheets))},
        "agreement": {"source": _agreement(sheets, "source", ids)},
        "definitions": {
            "positive class": "generated", "sensitivity": "generated cases answered generated / generated cases",
            "specificity": "real cases answered real / real cases", "intervals": "Wilson 95% (bootstrap for AUC)",
            "pooled": "all reads of all readers counted as independent"},
    }
    if disease:
        results["agreement"]["disease"] = _agreement(sheets, "disease", ids)
        results["model"] = _model_block(ids, truth, label, model)
        pooled = {}
        for sub in SUBSETS:
            ys, ans = [], []
            for s in sheets:
                for c in _subset(ids, truth, sub):
                    if c in s.disease:
                        ys.append(label[c])
                        ans.append(s.disease[c])
            pooled[sub] = disease_block(np.array(ys), np.array(ans)) if ys else None
        results["pooled"]["disease"] = pooled
    return results


def _subset(ids: list[str], truth: dict[str, int], sub: str) -> list[str]:
    if sub == "all":
        return ids
    want = 1 if sub == "generated" else 0
    return [c for c in ids if truth[c] == want]


def _disease_for(s: Sheet, ids, truth, label, model) -> dict:
    out = {}
    for sub in SUBSETS:
        done = [c for c in _subset(ids, truth, sub) if c in s.disease]
        if not done:
            out[sub] = None
            continue
        block = {"reader": disease_block(np.array([label[c] for c in done]), np.array([s.disease[c] for c in done]))}
        paired = [c for c in done if c in model]
        if paired:
            rc = [s.disease[c] == label[c] for c in paired]
            mc = [model[c] == label[c] for c in paired]
            block["vs_model"] = {"n": len(paired), "reader_accuracy": _rate(sum(rc), len(paired)),
                                 "model_accuracy": _rate(sum(mc), len(paired)), "mcnemar": mcnemar_exact(rc, mc)}
        out[sub] = block
    return out


def _model_block(ids, truth, label, model) -> dict | None:
    if not model:
        return None
    out = {}
    for sub in SUBSETS:
        done = [c for c in _subset(ids, truth, sub) if c in model]
        out[sub] = (disease_block(np.array([label[c] for c in done]), np.array([model[c] for c in done]))
                    if done else None)
    out["cases_without_prediction"] = sum(1 for c in ids if c not in model)
    return out
