"""Local screening: one row per input, resume, manifest input, precisions, CLI."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cardionets.screen import expand_inputs, load_screen_model, screen
from cardionets.export.reference import reference_outputs


def _rows(out):
    return pd.read_parquet(out / "screen.parquet")


def test_screen_matches_model_and_api(screen_cohort, screen_model, tmp_path):
    out = tmp_path / "out"
    s = screen([screen_cohort], screen_model, out, merge=True, batch_size=7, shard_size=16, progress=False)
    df = _rows(out)
    assert len(df) == 40 == s.processed == s.ok and s.shards_written >= 2
    assert df["error"].isna().all() and df["path"].is_unique
    assert df["model_version"].nunique() == 1
    # the rows equal the plain model on the same preprocessed record, and the API's predict
    import cardionets
    from cardionets.dsp import preprocess_ecg
    from cardionets.io import read_ecg

    m = load_screen_model(screen_model)
    row = df.iloc[3]
    x = np.asarray(preprocess_ecg(read_ecg(row["path"])).signal, np.float32)[None]
    phen, prob = reference_outputs(m, x)
    got_p = row[[f"phenotype.{n}" for n in m.phenotype_names]].to_numpy(np.float32)
    got_d = row[[f"prob.{n}" for n in m.disease_names]].to_numpy(np.float32)
    np.testing.assert_allclose(got_p, phen[0], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got_d, prob[0], atol=1e-5)
    api = cardionets.CardioNets.from_pretrained(screen_model).predict(row["path"])
    assert api["diseases"]["CAD"] == pytest.approx(float(row["prob.CAD"]), abs=1e-5)
    assert api["phenotypes"]["LVEF"] == pytest.approx(float(row["phenotype.LVEF"]), rel=1e-5, abs=1e-4)


def test_resume_and_manifest(screen_cohort, screen_model, tmp_path):
    out = tmp_path / "out"
    s1 = screen([screen_cohort], screen_model, out, limit=15, shard_size=8, progress=False)
    assert s1.processed == 15
    s2 = screen([screen_cohort], screen_model, out, merge=True, progress=False)
    assert s2.skipped_done == 15 and s2.processed == 25
    df = _rows(out)
    assert len(df) == 40 and df["path"].is_unique
    s3 = screen([screen_cohort], screen_model, out, progress=False)
    assert s3.processed == 0
    # a manifest (CSV, relative paths) names the same records
    heas = sorted(screen_cohort.glob("*.hea"))[:5]
    man = screen_cohort.parent / "manifest.csv"
    pd.DataFrame({"path": [f"ecg/{h.name}" for h in heas], "record_id": [h.stem for h in heas]}).to_csv(man, index=False)
    items = expand_inputs([man])
    assert [i.record_id for i in items] == [h.stem for h in heas]
    assert {i.path for i in items} <= set(df["path"])


def test_precisions(screen_cohort, screen_model, tmp_path):
    pytest.importorskip("onnxruntime")
    from cardionets.export.onnx import export_onnx
    from cardionets.screen.model import make_runner

    m = load_screen_model(screen_model)
    from cardionets.dsp import preprocess_ecg
    from cardionets.io import read_ecg

    x = np.stack([preprocess_ecg(read_ecg(p)).signal for p in sorted(screen_cohort.glob("*.hea"))[:4]]).astype(np.float32)
    ref = reference_outputs(m, x)
    onnx_path = export_onnx(m, tmp_path / "m.onnx")
    for prec, tol in (("fp32", 1e-6), ("onnx", 1e-4), ("bf16", 0.05), ("int8", 0.05)):
        p, d = make_runner(m, prec, onnx_path=onnx_path)(x)
        assert p.shape == ref[0].shape and d.shape == ref[1].shape
        assert np.abs(d - ref[1]).max() <= tol, prec
        rel = np.abs(p - ref[0]).max() / np.abs(ref[0]).max()
        assert rel <= tol, (prec, rel)


def test_cli(screen_cohort, screen_model, tmp_path, capsys):
    from cardionets.cli import main

    out = tmp_path / "cli"
    assert main(["screen", str(screen_cohort), "--model", str(screen_model), "--out", str(out), "--merge",
                 "--no-progress", "--limit", "6"]) == 0
    assert "screened 6 record(s)" in capsys.readouterr().out
    assert len(_rows(out)) == 6
