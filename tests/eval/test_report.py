"""End to end: synthetic predictions of five models of different quality -> statistics, PNGs,
results.json and one self-contained HTML page; empty sections say "not run"."""
import json
import re

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from cardionets.eval.report import build_report
from cardionets.eval.results import Results, ScorePredictions
from cardionets.eval.statistics import SECTIONS

from .synthetic import synthetic_results


def _strict(text):
    def bad(c):
        raise ValueError(f"non-strict JSON constant {c}")
    return json.loads(text, parse_constant=bad)


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    res = synthetic_results(seed=0, n_test=300, n_val=200, strips_dir=d / "strips")
    files = build_report(res, d / "out", n_boot=200, n_perm=500, seed=0, tsne_max=200)
    return res, files


def test_report_files_and_self_contained_html(full_report):
    res, files = full_report
    page = files.html.read_text()
    assert files.json.is_file() and files.predictions.is_file()
    names = {p.name for p in files.figures}
    for f in ("roc", "calibration", "ratios", "label_efficiency", "phenotype_scatter", "subtype_confusion",
              "similarity", "tsne"):
        assert f"{f}.png" in names
    assert sum(n.startswith("cine_strip_") for n in names) == 2
    for p in files.figures:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # self-contained: every image inline, nothing fetched, no scripts
    srcs = re.findall(r'<img[^>]*src="([^"]*)"', page)
    assert len(srcs) == len(files.figures)
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<script" not in page and "<link" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for key, _ in SECTIONS:
        assert f'<section id="{key}">' in page
    assert "Not run" not in page


def test_results_json_matches_direct_computation(full_report):
    res, files = full_report
    st = _strict(files.json.read_text())
    assert set(st["sections"].values()) == {"ok"}
    p = res.screening["CAD"]["cardionets"]
    assert st["screening"]["CAD"]["cardionets"]["auc"]["estimate"] == pytest.approx(roc_auc_score(p.y_true, p.y_score))
    # model quality ordering shows through; the weakest model differs significantly from cardionets
    aucs = {m: st["screening"]["CAD"][m]["auc"]["estimate"] for m in res.models}
    assert aucs["scratch"] < aucs["cardionets"] < aucs["cmr_ref"]
    assert st["screening"]["CAD"]["scratch"]["vs_reference"]["delong"]["p_value"] < 0.05
    assert "vs_reference" not in st["screening"]["CAD"]["cardionets"]
    assert st["phenotypes"]["scratch"]["average"]["r2"] < st["phenotypes"]["cardionets"]["average"]["r2"]
    assert st["subtypes"]["cmr_ref"]["balanced_accuracy"] > st["subtypes"]["scratch"]["balanced_accuracy"]
    assert sorted(int(r) for r in st["ratios"]["CAD"]) == [1, 2, 5, 10]
    assert len(st["label_efficiency"]["CAD"]["points"]["cardionets"]) == 5
    assert st["label_efficiency"]["phenotypes"]["metric"] == "mean R²"
    assert st["kfold"]["CAD"]["cardionets"]["k"] == 5
    assert st["generation"]["metrics"]["SSIM"]["n"] == 50
    assert st["screening"]["CAD"]["ssl"]["threshold"]["rule"] == "Youden's J on validation"


def test_predictions_round_trip(full_report, tmp_path):
    res, files = full_report
    back = Results.load(files.predictions)
    assert back.models == res.models and back.subtype_classes == res.subtype_classes
    np.testing.assert_array_equal(back.screening["HF"]["ssl"].val_score, res.screening["HF"]["ssl"].val_score)
    np.testing.assert_array_equal(back.phenotypes["cmr_ref"].y_true, res.phenotypes["cmr_ref"].y_true)
    assert sorted(back.label_efficiency["CAD"]) == [0.1, 0.25, 0.5, 0.75, 1.0]
    np.testing.assert_array_equal(back.similarity["ssl"].similarity, res.similarity["ssl"].similarity)
    assert back.generation.strips == res.generation.strips


def test_empty_results_say_not_run(tmp_path):
    files = build_report(Results(), tmp_path, n_boot=50, n_perm=50)
    page = files.html.read_text()
    assert page.count('class="notrun"') == len(SECTIONS)
    st = _strict(files.json.read_text())
    assert set(st["sections"].values()) == {"not run"}
    assert files.figures == []


def test_partial_results_without_validation(tmp_path):
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.3).astype(int)
    res = Results(models=["ssl", "cardionets"],
                  screening={"HF": {m: ScorePredictions(y, 1 / (1 + np.exp(-(q * y + rng.normal(size=200)))))
                                    for m, q in (("ssl", 0.5), ("cardionets", 1.5))}})
    files = build_report(res, tmp_path, n_boot=100, n_perm=200)
    st = _strict(files.json.read_text())
    assert st["sections"]["screening"] == "ok" and st["sections"]["phenotypes"] == "not run"
    assert st["screening"]["HF"]["ssl"]["threshold"]["rule"].startswith("0.5")
    page = files.html.read_text()
    assert "Not run: no phenotype predictions" in page
    assert page.count('class="notrun"') == 8


@pytest.mark.slow
def test_full_size_report_default_settings(tmp_path):
    """The defaults of the paper: 1,000 bootstrap resamples, 10,000 permutations."""
    res = synthetic_results(seed=1, n_test=600, n_val=400, strips_dir=tmp_path / "strips")
    files = build_report(res, tmp_path / "out")
    assert set(_strict(files.json.read_text())["sections"].values()) == {"ok"}


def test_report_from_plain_dict(tmp_path):
    rng = np.random.default_rng(1)
    y = (rng.random(150) < 0.4).astype(int)
    yv = (rng.random(100) < 0.4).astype(int)
    d = {"models": ["ssl", "cardionets"], "meta": {"preset": "tiny"},
         "screening": {"CAD": {m: {"y_true": y, "y_score": 1 / (1 + np.exp(-(q * y + rng.normal(size=150)))),
                                   "val_true": yv, "val_score": 1 / (1 + np.exp(-(q * yv + rng.normal(size=100))))}
                               for m, q in (("ssl", 0.5), ("cardionets", 2.0))}},
         "phenotypes": {m: {"y_true": np.c_[y, y] * 10.0 + rng.normal(size=(150, 2)),
                            "y_pred": np.c_[y, y] * 10.0 * q + rng.normal(size=(150, 2)), "names": ["LVEF", "LVM"]}
                        for m, q in (("ssl", 0.5), ("cardionets", 0.9))},
         "ratios": {"CAD": {2: {"ssl": {"y_true": y, "y_score": rng.random(150)}}}}}
    files = build_report(d, tmp_path, n_boot=100, n_perm=100)
    st = _strict(files.json.read_text())
    assert st["screening"]["CAD"]["ssl"]["threshold"]["rule"] == "Youden's J on validation"
    assert st["sections"]["phenotypes"] == "ok" and st["sections"]["ratios"] == "ok"
    with pytest.raises(Exception, match="unknown field"):
        Results.from_dict({"screenings": {}})


def test_degenerate_inputs_do_not_break_the_report(tmp_path):
    """No reference model in a task, a single-class test set, a subtype absent from the test labels,
    scores outside [0, 1] (no calibration curve), different test cases (no comparison)."""
    rng = np.random.default_rng(2)
    y = (rng.random(120) < 0.3).astype(int)
    y3 = rng.choice([0, 2], 120)                                  # class 1 (HCM) absent
    p3 = rng.dirichlet(np.ones(3), 120)
    res = Results(
        screening={"CAD": {"ssl": ScorePredictions(y, rng.normal(size=120) + y)},      # logits, no reference
                   "HF": {"cardionets": ScorePredictions(y, rng.random(120)),
                          "ssl": ScorePredictions(y[::-1], rng.random(120))}},           # different cases
        ratios={"CAD": {10: {"ssl": ScorePredictions(np.zeros(50, int), rng.random(50))}}},
        subtypes={"cardionets": ScorePredictions(y3, p3), "ssl": ScorePredictions(y3, p3[::-1])},
        label_efficiency={"HF": {0.1: {"ssl": ScorePredictions(np.ones(30, int), rng.random(30))}}},
    )
    files = build_report(res, tmp_path, n_boot=50, n_perm=50)
    st = _strict(files.json.read_text())
    assert "vs_reference" not in st["screening"]["CAD"]["ssl"]
    assert "differ" in st["screening"]["HF"]["ssl"]["vs_reference"]["note"]
    assert st["ratios"]["CAD"]["10"]["ssl"]["auc"]["estimate"] is None
    assert st["subtypes"]["cardionets"]["per_class"]["HCM"]["auc"]["estimate"] is None
    pm = st["subtypes"]["ssl"]["vs_reference"]["permutation_mAP"]
    assert pm["value_a"] == pytest.approx(st["subtypes"]["cardionets"]["mAP"])   # mean over present classes
    page = files.html.read_text()
    assert "scores are not probabilities" in page
