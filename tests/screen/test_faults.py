"""Screening's promises under faults: per-record isolation (9 s next to 10 s records, a failing model
batch), one run per output (lock), damaged shards quarantined and redone, a resume that would mix
models or settings refused, empty manifest cells, the output inside the input folder, hidden files,
headers that name other ECGs, an explicit model choice, and every hostile file as one error row."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cardionets.errors import CardioNetsError, OutputInUse
from cardionets.screen import ShardStore, load_screen_model, screen
from cardionets.export.reference import reference_outputs


def _cohort_copy(screen_cohort: Path, dst: Path, n: int = 8) -> Path:
    dst.mkdir(parents=True)
    for h in sorted(screen_cohort.glob("*.hea"))[:n]:
        shutil.copy(h, dst / h.name)
        shutil.copy(h.with_suffix(".dat"), dst / h.with_suffix(".dat").name)
    return dst


def _rows(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "screen.parquet")


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cardionets", "screen", *args, "--no-progress", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_nine_second_record_in_a_batch_of_ten_second_records(screen_cohort, screen_model, tmp_path):
    from cardionets.dsp import preprocess_ecg
    from cardionets.io import read_ecg

    d = _cohort_copy(screen_cohort, tmp_path / "in", n=5)
    src = sorted(d.glob("*.hea"))[0]
    nine = d / "nine.hea"  # exactly 9 s: 4500 samples at 500 Hz -> one 2250-sample crop
    nine.write_text(src.read_text().replace(src.stem, "nine").replace(" 500 5000", " 500 4500", 1))
    (d / "nine.dat").write_bytes(src.with_suffix(".dat").read_bytes()[: 4500 * 12 * 2])
    s = screen([d], screen_model, tmp_path / "out", batch_size=6, merge=True, progress=False)
    df = _rows(tmp_path / "out")
    assert s.processed == 6 == len(df) and df["error"].isna().all(), df["error"].tolist()
    row = df[df["record_id"] == "nine"].iloc[0]
    crop = np.asarray(preprocess_ecg(read_ecg(nine)).signal, np.float32)
    assert crop.shape[0] == 1
    m = load_screen_model(screen_model)
    phen, prob = reference_outputs(m, crop[None])
    np.testing.assert_allclose(row[[f"prob.{n}" for n in m.disease_names]].to_numpy(np.float32), prob[0], atol=1e-5)
    np.testing.assert_allclose(row[[f"phenotype.{n}" for n in m.phenotype_names]].to_numpy(np.float32), phen[0],
                               rtol=1e-4, atol=1e-3)


def test_a_failing_batch_only_fails_its_failing_record():
    from cardionets.screen.model import score_isolated

    def runner(x):  # fails whenever the poisoned record is in the batch
        if (x[:, 0, 0, 0] == 99).any():
            raise RuntimeError("boom")
        return x[:, 0, 0, :2].copy(), x[:, 0, 0, 2:3].copy()

    crops = [np.full((3, 12, 2250), v, np.float32) for v in (1, 2, 99, 4)]
    phen, prob, errors = score_isolated(runner, crops, 2, 1)
    assert errors == [None, None, "model: RuntimeError: boom", None]
    assert phen[:, 0].tolist()[:2] == [1, 2] and np.isnan(phen[2]).all() and prob[3, 0] == 4


def test_a_second_run_on_the_same_output_refuses(screen_cohort, screen_model, tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom cardionets.screen import ShardStore\n"
                               f"ShardStore({str(out)!r}).lock()\nprint('locked', flush=True)\ntime.sleep(120)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        proc = _cli(str(screen_cohort), "--model", str(screen_model), "--out", str(out))
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 2 and "another `cardionets screen` run" in err and f"pid {holder.pid}" in err
        with pytest.raises(OutputInUse):
            screen([screen_cohort], screen_model, out, progress=False)
    finally:
        holder.kill()
        holder.wait()
    # two runs started together: one refuses (or finds nothing left); one row per input in any case
    procs = [_cli(str(screen_cohort), "--model", str(screen_model), "--out", str(out), "--shard-size", "4")
             for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 0], [0, 2]), (codes, [r[1][-500:] for r in results])
    n_rows = sum(pq.read_metadata(f).num_rows for f in ShardStore(out).shard_files())
    assert n_rows == 40


def test_damaged_shards_are_quarantined_and_their_records_redone(screen_cohort, screen_model, tmp_path):
    clean = tmp_path / "clean"
    screen([screen_cohort], screen_model, clean, merge=True, progress=False)
    out = tmp_path / "out"
    screen([screen_cohort], screen_model, out, limit=24, shard_size=4, batch_size=2, chunk=4, progress=False)
    shards = ShardStore(out).shard_files()
    assert len(shards) >= 3
    intact = sum(pq.read_metadata(f).num_rows for f in shards[2:])
    raw = shards[0].read_bytes()
    shards[0].write_bytes(raw[: len(raw) // 2])  # truncated
    raw = bytearray(shards[1].read_bytes())
    raw[len(raw) // 3] ^= 0x5A  # one flipped byte inside a data page
    shards[1].write_bytes(bytes(raw))
    (ShardStore(out).dir / "part-junk-000000.parquet").write_bytes(b"not parquet at all")
    s = screen([screen_cohort], screen_model, out, merge=True, progress=False)
    assert sorted(s.quarantined) == sorted([shards[0].name, shards[1].name, "part-junk-000000.parquet"])
    assert s.skipped_done == intact and s.processed == 40 - intact
    assert sorted(p.name for p in (out / "quarantine").iterdir()) == sorted(s.quarantined)
    a = _rows(clean).set_index("path").sort_index()
    b = _rows(out).set_index("path").sort_index()
    assert list(a.index) == list(b.index) and b.index.is_unique
    cols = [c for c in a.columns if c.startswith(("phenotype.", "prob."))]
    np.testing.assert_allclose(b[cols].to_numpy(), a[cols].to_numpy(), rtol=1e-5, atol=1e-5)


def test_resume_with_another_model_or_precision_is_refused(screen_cohort, screen_model, tmp_path):
    from cardionets.screen.untrained import write_untrained_model

    other = write_untrained_model(tmp_path / "other", "tiny", seed=2, width=32, depth=1, heads=2)
    out = tmp_path / "out"
    first = screen([screen_cohort], screen_model, out, limit=5, progress=False)
    with pytest.raises(OutputInUse, match="model_version"):
        screen([screen_cohort], other, out, progress=False)
    with pytest.raises(OutputInUse, match="precision 'fp32' there, 'bf16' now"):
        screen([screen_cohort], screen_model, out, precision="bf16", progress=False)
    with pytest.raises(OutputInUse, match="n_crops"):
        screen([screen_cohort], screen_model, out, n_crops=2, progress=False)
    s = screen([screen_cohort], screen_model, out, merge=True, progress=False)
    df = _rows(out)
    assert s.skipped_done == 5 and len(df) == 40 and df["model_version"].nunique() == 1
    assert (df["model_version"] == first.model_version).all() and (df["precision"] == "fp32").all()
    # the manifest in the shards is the reference, also without run.json
    (out / "run.json").unlink()
    with pytest.raises(OutputInUse, match="model_version"):
        screen([screen_cohort], other, out, progress=False)


def test_manifest_with_empty_cells(screen_cohort, screen_model, tmp_path):
    heas = sorted(screen_cohort.glob("*.hea"))[:3]
    man = tmp_path / "m.csv"
    man.write_text("path,record_id\n" + f"{heas[0]},a\n,b\n{heas[1]},c\n   ,\n{heas[2]},e\n")
    pq_man = tmp_path / "m.parquet"
    pd.DataFrame({"path": [str(heas[0]), None, ""]}).to_parquet(pq_man)
    s = screen([man, pq_man], screen_model, tmp_path / "out", merge=True, progress=False)
    df = _rows(tmp_path / "out").set_index("record_id")
    assert s.processed == 7 == len(df)  # 5 csv rows + 2 empty parquet cells (its first row repeats heas[0])
    assert df.loc[["a", "c", "e"], "error"].isna().all()
    empty = df[df["error"].notna()]
    assert len(empty) == 4 and empty["error"].str.startswith("manifest: ").all()
    assert set(empty.index) == {"b", "m.csv#row=4", "m.parquet#row=2", "m.parquet#row=3"}
    assert s.errors == {"manifest": 4}


def test_output_inside_the_input_folder_is_not_an_input(screen_cohort, screen_model, tmp_path):
    d = _cohort_copy(screen_cohort, tmp_path / "in", n=6)
    out = d / "results"
    for _ in range(2):  # the second run would have screened the first one's shards
        s = screen([d], screen_model, out, merge=True, progress=False)
        assert s.excluded.get("output directory") == 1
    df = _rows(out)
    assert len(df) == 6 and not df["path"].str.contains("/results/").any()
    with pytest.raises(CardioNetsError, match="inside the output directory"):
        screen([out / "shards"], screen_model, out, progress=False)


def test_one_row_per_file_whatever_headers_say(screen_cohort, screen_model, real_data, tmp_path):
    d = _cohort_copy(screen_cohort, tmp_path / "in", n=3)
    heas = sorted(d.glob("*.hea"))
    xml = d / "other_ecg.xml"
    shutil.copy(real_data / "ecg" / "formats" / "hl7_aecg_example.xml", xml)
    liar = d / "liar.hea"  # claims the XML ECG and another record's signal file as its own
    lines = heas[0].read_text().splitlines()
    liar.write_text("\n".join([lines[0].replace(heas[0].stem, "liar")] +
                              [ln.replace(f"{heas[0].stem}.dat", "other_ecg.xml" if i % 2 else f"{heas[1].stem}.dat")
                               for i, ln in enumerate(lines[1:13])]) + "\n")
    (d / ".hidden.hea").write_text(heas[0].read_text())
    (d / ".cache").mkdir()
    (d / ".cache" / "x.npz").write_bytes(b"")
    s = screen([d], screen_model, tmp_path / "out", merge=True, progress=False)
    df = _rows(tmp_path / "out")
    names = sorted(Path(p).name for p in df["path"])
    assert names == sorted([h.name for h in heas] + ["liar.hea", "other_ecg.xml"])
    assert pd.isna(df.set_index("record_id").loc["other_ecg.xml", "error"])
    assert s.excluded == {"hidden files": 1, "hidden directories": 1}
    s = screen([d], screen_model, tmp_path / "out_hidden", include_hidden=True, progress=False)
    assert s.processed == 7 and not s.excluded


def test_model_choice_is_explicit(screen_cohort, screen_model, tmp_path):
    from cardionets.screen.untrained import write_untrained_model

    runs = tmp_path / "runs"
    write_untrained_model(runs / "a", "tiny", seed=1, width=32, depth=1, heads=2)
    write_untrained_model(runs / "b", "tiny", seed=2, width=32, depth=1, heads=2)
    with pytest.raises(CardioNetsError, match="2 runs for task 'diseases'.*pass the run directories"):
        screen([screen_cohort], runs, tmp_path / "out", progress=False)
    chosen = [runs / "a" / "phenotypes", runs / "b" / "diseases"]
    s = screen([screen_cohort], chosen, tmp_path / "out", limit=3, progress=False)
    assert s.model_runs == {"diseases": str(chosen[1]), "phenotypes": str(chosen[0])}
    proc = _cli(str(screen_cohort), "--model", *map(str, chosen), "--out", str(tmp_path / "cli"), "--limit", "2")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and f"model for diseases: {chosen[1]}" in err


def test_every_hostile_file_is_one_error_row(real_data, tmp_path):
    from tests.io.hostile_inputs import write_hostile

    cases = write_hostile(tmp_path / "hostile", real_data)
    t0 = time.perf_counter()
    s = screen([tmp_path / "hostile"], None, tmp_path / "out", merge=True, progress=False)
    assert time.perf_counter() - t0 < 120
    df = _rows(tmp_path / "out").set_index("path")
    for name in cases:
        err = df.loc[str(tmp_path / "hostile" / name), "error"]
        assert isinstance(err, str) and name in err, (name, err)
    assert df["error"].notna().all() and df.index.is_unique and s.processed == len(df)
    assert (df["model_version"] == "none").all() and (df["precision"] == "none").all()
    assert s.errors.get("too_large", 0) >= 10


def test_an_undecodable_header_does_not_touch_its_chunk(screen_cohort, screen_model, tmp_path):
    d = _cohort_copy(screen_cohort, tmp_path / "in", n=4)
    heas = sorted(d.glob("*.hea"))
    latin = d / "latin.hea"  # a valid record whose header has a latin-1 comment
    latin.write_bytes(heas[0].read_bytes().replace(heas[0].stem.encode(), b"latin") + b"# Befund: \xe4\n")
    shutil.copy(heas[0].with_suffix(".dat"), d / "latin.dat")
    f160 = d / "f160.hea"  # format 160: read by the wfdb fallback
    raw = np.frombuffer(heas[1].with_suffix(".dat").read_bytes(), "<i2")
    (raw.astype(np.int32) + 32768).astype("<u2").tofile(d / "f160.dat")
    f160.write_text(heas[1].read_text().replace(heas[1].stem, "f160").replace(".dat 16 ", ".dat 160 "))
    (d / "garbage.hea").write_bytes(b"\xff\xfe" * 100)
    s = screen([d], screen_model, tmp_path / "out", chunk=16, batch_size=8, merge=True, progress=False)
    df = _rows(tmp_path / "out").set_index("record_id")
    assert s.processed == 7 and df["error"].isna().sum() == 6 and df.loc["garbage", "error"].startswith("unreadable")
    cols = [c for c in df.columns if c.startswith("prob.")]
    np.testing.assert_allclose(df.loc["latin", cols].to_numpy(float), df.loc[heas[0].stem, cols].to_numpy(float),
                               atol=1e-6)
    np.testing.assert_allclose(df.loc["f160", cols].to_numpy(float), df.loc[heas[1].stem, cols].to_numpy(float),
                               atol=1e-6)
