"""reader-study make: the pack's contents, its blinding, the key, determinism and refusals."""
from __future__ import annotations

import json
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image, PngImagePlugin

from cardionets.errors import InputError
from cardionets.readerstudy import PackSettings, make_pack
from cardionets.readerstudy.blinding import check_pack, gif_structure, png_chunks
from cardionets.readerstudy.pack import FIXED_MTIME

from .study_data import CM_SUBJECTS, GENERATED_SUBJECTS, PREDICTED_CM

SMALL = dict(gif_scale=1, strip_scale=1)


def _files(pack):
    return sorted(p.relative_to(pack).as_posix() for p in pack.rglob("*") if p.is_file())


def test_pack_holds_only_blinded_files_and_the_key_lies_outside(study_pack):
    pack, key = study_pack["pack"], study_pack["key"]
    ids = [c["case_id"] for c in key["cases"]]
    assert ids == [f"C{i:02d}" for i in range(1, 9)]
    assert _files(pack) == sorted(["README.txt", "case_sheet.csv"] + [f"cases/{c}.gif" for c in ids]
                                  + [f"cases/{c}.png" for c in ids])
    assert key["counts"] == {"cases": 8, "real": 4, "generated": 4}
    assert pack.resolve() not in study_pack["key_path"].resolve().parents
    sheet = pd.read_csv(pack / "case_sheet.csv", dtype=str, keep_default_na=False)
    assert list(sheet.columns) == ["case_id", "pack_id", "reader", "real_or_generated", "confidence",
                                   "disease_present", "notes"]
    assert sheet["case_id"].tolist() == ids and set(sheet["pack_id"]) == {key["pack_id"]}
    assert (sheet.drop(columns=["case_id", "pack_id"]) == "").all().all()
    readme = (pack / "README.txt").read_text()
    assert key["pack_id"] in readme and "cardiomyopathy" in readme


def test_every_case_is_rendered_the_same_way(study_pack):
    pack, key = study_pack["pack"], study_pack["key"]
    gifs, pngs = [], []
    for c in key["cases"]:
        g = gif_structure(pack / "cases" / f"{c['case_id']}.gif")
        assert g["frames"] == 50 and g["loop"] == 0 and g["palette"] == 256 and g["other_blocks"] == []
        assert set(g["delays_ms"]) == {40}
        gifs.append(g["size"])
        with Image.open(pack / "cases" / f"{c['case_id']}.png") as im:
            pngs.append(im.size)
            assert set(im.info) <= {"dpi"} and "dpi" not in im.info      # no text, no physical size
        assert set(png_chunks(pack / "cases" / f"{c['case_id']}.png")) == {"IHDR", "IDAT", "IEND"}
    assert set(gifs) == {(96, 96)} and len(set(pngs)) == 1
    for p in [pack, *pack.rglob("*")]:
        assert int(os.stat(p).st_mtime) == FIXED_MTIME
    audit = key["blinding_audit"]
    assert audit["identical"]["gif_loop_ms"] == 2000 and audit["varying"]["gif_frames"]["min"] == 50


def test_no_source_identifier_anywhere_in_the_pack(study_pack):
    pack, key = study_pack["pack"], study_pack["key"]
    secrets = set()
    for c in key["cases"]:
        src = c["source_file"]
        secrets |= {c["subject_id"], c["name"], os.path.basename(src), os.path.dirname(src)}
    assert all(len(s) >= 6 for s in secrets)
    for p in pack.rglob("*"):
        name = p.relative_to(pack).as_posix()
        assert re.fullmatch(r"README\.txt|case_sheet\.csv|cases|cases/C\d\d\.(gif|png)", name), name
        if p.is_file():
            data = p.read_bytes()
            for s in secrets:
                assert s.encode().lower() not in data.lower(), (name, s)
    sheet_text = (pack / "case_sheet.csv").read_text().lower()
    assert "real" not in sheet_text.split("\n", 1)[1] and "gen" not in sheet_text.split("\n", 1)[1]


def test_key_has_labels_predictions_and_no_subject_twice(study_pack):
    key = study_pack["key"]
    subj = pd.read_parquet(study_pack["cohort"] / "subjects.parquet")["subject_id"].tolist()
    index = {s: i for i, s in enumerate(subj)}
    for c in key["cases"]:
        i = index[c["subject_id"]]
        assert c["disease_label"] == int(i in CM_SUBJECTS)
        assert c["model_probability"] == pytest.approx(PREDICTED_CM[i])
        assert c["model_prediction"] == int(PREDICTED_CM[i] >= 0.5)
        assert (i in GENERATED_SUBJECTS) == (c["truth"] == "generated")
    for truth in ("real", "generated"):
        labels = [c["disease_label"] for c in key["cases"] if c["truth"] == truth]
        assert sum(labels) == 2 and len(labels) == 4          # positive_fraction 0.5
    assert len({c["subject_id"] for c in key["cases"]}) == 8
    assert key["seed"] == 4 and key["disease"] == "CM"


def test_same_seed_same_pack_other_seed_other_order(study_pack, tmp_path):
    s = study_pack
    again = make_pack(s["cohort"], s["generated"], tmp_path / "a", tmp_path / "a.json", predictions=s["predictions"],
                      settings=PackSettings(disease="CM", seed=4, **SMALL), progress=False)
    assert again["pack_sha256"] == s["key"]["pack_sha256"] and again["files"] == s["key"]["files"]
    assert again["cases"] == s["key"]["cases"]
    other = make_pack(s["cohort"], s["generated"], tmp_path / "b", tmp_path / "b.json", predictions=s["predictions"],
                      settings=PackSettings(disease="CM", seed=5, **SMALL), progress=False)
    assert [c["source_file"] for c in other["cases"]] != [c["source_file"] for c in s["key"]["cases"]]
    assert other["pack_id"] != s["key"]["pack_id"]


def test_generated_and_real_cines_are_read_and_drawn_alike(study_inputs, tmp_path):
    """A real cine written by the generator's NIfTI writer comes back through the pack's reader as
    the same picture (same orientation, intensity scaling, frame count): only content differs."""
    from cardionets.generate.writers import to_uint8, write_nifti
    from cardionets.io import read_cmr

    subj = pd.read_parquet(study_inputs["cohort"] / "subjects.parquet")
    x = read_cmr(study_inputs["cohort"] / subj["cmr_path"].iloc[8])
    y = read_cmr(write_nifti(tmp_path / "as_generated.nii.gz", x))
    assert y.shape == x.shape and np.abs(y - x).max() < 1e-3
    assert np.abs(to_uint8(y).astype(int) - to_uint8(x).astype(int)).max() <= 1


def test_metadata_in_a_pack_file_is_caught(study_pack, tmp_path):
    pack = tmp_path / "pack"
    shutil.copytree(study_pack["pack"], pack)
    cases = [{"case_id": c["case_id"], "truth": c["truth"], "gif": f"cases/{c['case_id']}.gif",
              "png": f"cases/{c['case_id']}.png"} for c in study_pack["key"]["cases"]]
    assert check_pack(pack, cases, set())["identical"]["gif_palette"] == 256
    info = PngImagePlugin.PngInfo()
    info.add_text("Source", "x")
    with Image.open(pack / "cases" / "C03.png") as im:
        im.load()
        im.save(pack / "cases" / "C03.png", pnginfo=info)
    with pytest.raises(InputError, match=r"C03.png carries metadata chunks \['tEXt'\]"):
        check_pack(pack, cases, set())
    shutil.copy(study_pack["pack"] / "cases" / "C03.png", pack / "cases" / "C03.png")
    (pack / "README.txt").write_text("case from SYN000003\n")
    with pytest.raises(InputError, match="README.txt contains the source identifier 'SYN000003'"):
        check_pack(pack, cases, {"SYN000003"})
    gif = (pack / "cases" / "C01.gif").read_bytes()
    for cut, msg in ((500, "colour table runs past"), (2000, "data block runs past"), (len(gif) - 1, "without a trailer")):
        (pack / "cases" / "C01.gif").write_bytes(gif[:cut])
        with pytest.raises(InputError, match=f"C01.gif: GIF {msg}"):
            gif_structure(pack / "cases" / "C01.gif")


def test_refusals(study_pack, tmp_path):
    s = study_pack
    real, gen = s["cohort"], s["generated"]
    cases = [
        (dict(out=tmp_path / "p", key=tmp_path / "p" / "key.json"), "inside the pack"),
        (dict(out=s["pack"], key=tmp_path / "k.json"), "not an empty directory"),
        (dict(out=tmp_path / "p", key=s["key_path"]), "a key already exists"),
        (dict(out=tmp_path / "p", key=tmp_path / "key.txt"), "name it \\*.json"),
        (dict(out=tmp_path / "p", key=tmp_path / "k.json", predictions=s["predictions"]), "give --disease too"),
        (dict(out=tmp_path / "p", key=tmp_path / "k.json", settings=PackSettings(n_generated=9)),
         "9 generated cases asked for, only 4 available"),
        (dict(out=tmp_path / "p", key=tmp_path / "k.json", generated=tmp_path), "no generated NIfTI cines"),
        (dict(out=tmp_path / "p", key=tmp_path / "k.json", real=gen, settings=PackSettings(disease="CM")),
         "no disease label for"),
    ]
    for kw, msg in cases:
        args = {"real": real, "generated": gen, "progress": False} | kw
        with pytest.raises(InputError, match=msg):
            make_pack(args.pop("real"), args.pop("generated"), args.pop("out"), args.pop("key"), **args)
    assert not (tmp_path / "p").exists() and not any(tmp_path.glob(".p.partial-*"))


def test_real_folder_with_a_cohort_for_labels(study_pack, tmp_path):
    s = study_pack
    subj = pd.read_parquet(s["cohort"] / "subjects.parquet")
    folder = tmp_path / "real"
    folder.mkdir()
    for i in (4, 5, 8, 9):
        shutil.copy(s["cohort"] / subj["cmr_path"].iloc[i], folder)
    key = make_pack(folder, s["generated"], tmp_path / "p", tmp_path / "k.json", cohort=s["cohort"],
                    settings=PackSettings(disease="CM", seed=0, n_real=2, n_generated=2, **SMALL), progress=False)
    real = [c for c in key["cases"] if c["truth"] == "real"]
    assert len(real) == 2 and {c["disease_label"] for c in real} == {0, 1}
    ids = subj["subject_id"].tolist()
    assert all(c["disease_label"] == int(ids.index(c["subject_id"]) in CM_SUBJECTS) for c in key["cases"])
    assert json.loads((tmp_path / "k.json").read_text())["inputs"]["cohort"] == str(s["cohort"].resolve())
