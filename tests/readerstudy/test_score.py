"""reader-study score: exact numbers from filled sheets, sheet validation, and the CLI end to end."""
from __future__ import annotations

import json
import math

import pytest
from sklearn.metrics import cohen_kappa_score

from cardionets.cli import main
from cardionets.errors import InputError
from cardionets.readerstudy import score_sheets

from .study_data import fill_sheet, reader_answers

Z = 1.959963984540054


def wilson(k: int, n: int) -> tuple[float, float]:
    """The Wilson score interval written out directly (Wilson 1927)."""
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


def check_rate(block: dict, k: int, n: int) -> None:
    assert (block["k"], block["n"]) == (k, n)
    assert block["estimate"] == pytest.approx(k / n)
    lo, hi = wilson(k, n)
    assert block["low"] == pytest.approx(max(lo, 0.0), abs=1e-12)
    assert block["high"] == pytest.approx(min(hi, 1.0), abs=1e-12)


@pytest.fixture(scope="module")
def scored(study_pack, tmp_path_factory):
    out = tmp_path_factory.mktemp("sheets")
    answers = reader_answers(study_pack["key"])
    sheets = [fill_sheet(study_pack["pack"] / "case_sheet.csv", out / f"{name}.csv", a)
              for name, a in answers.items()]
    return answers, score_sheets(study_pack["key_path"], sheets, pack=study_pack["pack"])


def test_real_vs_generated_numbers_are_exact(study_pack, scored):
    answers, res = scored
    cases = study_pack["key"]["cases"]
    truth = {c["case_id"]: c["truth"] for c in cases}
    by_name = {r["reader"]: r for r in res["readers"]}
    assert list(by_name) == ["perfect", "random", "all_real"]          # reader = the file name
    perfect = by_name["perfect"]["source"]
    check_rate(perfect["accuracy"], 8, 8)
    assert perfect["confusion"] == {"truth_real": {"answer_real": 4, "answer_generated": 0},
                                    "truth_generated": {"answer_real": 0, "answer_generated": 4}}
    assert perfect["p_vs_chance"] == pytest.approx(2 * 0.5 ** 8)
    assert perfect["graded_auc"]["estimate"] == 1.0
    pooled_k = 0
    for name, ans in answers.items():
        given = {c: ("generated" if a[0] in ("generated", "g") else "real") for c, a in ans.items()}
        tr = sum(truth[c] == "real" and given[c] == "real" for c in truth)
        tg = sum(truth[c] == "generated" and given[c] == "generated" for c in truth)
        block = by_name[name]["source"]
        assert block["confusion"]["truth_real"]["answer_real"] == tr
        assert block["confusion"]["truth_generated"]["answer_generated"] == tg
        check_rate(block["accuracy"], tr + tg, 8)
        check_rate(block["sensitivity"], tg, 4)
        check_rate(block["specificity"], tr, 4)
        pooled_k += tr + tg
    check_rate(res["pooled"]["source"]["accuracy"], pooled_k, 24)
    all_real = by_name["all_real"]["source"]
    assert all_real["sensitivity"]["estimate"] == 0.0 and "graded_auc" not in all_real   # no confidences
    ids = [c["case_id"] for c in cases]
    code = {"real": 0, "generated": 1, "r": 0, "g": 1}
    pair = next(p for p in res["agreement"]["source"]["cohen_pairs"] if p["readers"] == ["perfect", "random"])
    assert pair["cohen_kappa"] == pytest.approx(cohen_kappa_score([code[answers["perfect"][c][0]] for c in ids],
                                                                   [code[answers["random"][c][0]] for c in ids]))
    assert res["agreement"]["source"]["fleiss_n_cases"] == 8


def test_disease_reader_vs_model(study_pack, scored):
    answers, res = scored
    cases = study_pack["key"]["cases"]
    model = res["model"]
    right = [c["model_prediction"] == c["disease_label"] for c in cases]
    check_rate(model["all"]["accuracy"], sum(right), 8)
    for r in res["readers"]:
        ans = answers[r["reader"]]
        reader_right = [(ans[c["case_id"]][2] == "yes") == bool(c["disease_label"]) for c in cases]
        b = sum(x and not y for x, y in zip(reader_right, right))
        c_ = sum(y and not x for x, y in zip(reader_right, right))
        vm = r["disease"]["all"]["vs_model"]
        check_rate(vm["reader_accuracy"], sum(reader_right), 8)
        assert (vm["mcnemar"]["b"], vm["mcnemar"]["c"]) == (b, c_)
        for sub in ("real", "generated"):
            sel = [i for i, c in enumerate(cases) if c["truth"] == sub]
            check_rate(r["disease"][sub]["reader"]["accuracy"], sum(reader_right[i] for i in sel), 4)
    assert res["readers"][0]["disease"]["all"]["reader"]["accuracy"]["estimate"] == 1.0


def _write(path, text):
    path.write_text(text)
    return path


def test_sheet_problems_are_named_with_sheet_and_line(study_pack, tmp_path):
    key = study_pack["key"]
    pid = key["pack_id"]
    head = "case_id,pack_id,reader,real_or_generated,confidence,disease_present,notes\n"
    bad = _write(tmp_path / "bad.csv", head + "\n".join([
        f"C01,{pid},,real,3,no,",
        f"C01,{pid},,real,3,no,",             # line 3: repeated
        f"C02,{pid},,maybe,3,no,",            # line 4: bad answer
        f"C03,{pid},,g,7,no,",                # line 5: bad confidence
        f"C04,{pid},,g,2,perhaps,",           # line 6: bad disease answer
        f"C99,{pid},,g,2,no,",                # line 7: unknown case
        f"C05,other,,g,2,no,",                # line 8: another pack
        f"C06,{pid},,,,no,",                  # line 9: blank
    ]) + "\n")
    with pytest.raises(InputError) as err:
        score_sheets(study_pack["key_path"], [bad])
    msg = str(err.value)
    for part in ("bad.csv: line 3: case C01 appears again (first on line 2)",
                 "bad.csv: line 4: case C02: real_or_generated 'maybe' is not real or generated",
                 "bad.csv: line 5: case C03: confidence '7' is not a whole number from 1 to 5",
                 "bad.csv: line 6: case C04: disease_present 'perhaps' is not yes or no",
                 "bad.csv: line 7: unknown case_id 'C99'",
                 "bad.csv: line 8: pack_id 'other' is not this pack's",
                 "bad.csv: line 9: case C06: real_or_generated left blank",
                 "2 case(s) of the pack missing from the sheet: C07, C08"):
        assert part in msg, part
    with pytest.raises(InputError, match="missing column"):
        score_sheets(study_pack["key_path"], [_write(tmp_path / "h.csv", "case_id,pack_id,answer\n")])
    huge = _write(tmp_path / "huge.csv", head + f"C01,{pid},,real,,no,\"" + "x" * 200_000 + "\"\n")
    with pytest.raises(InputError, match="huge.csv: line 2: not readable as CSV"):
        score_sheets(study_pack["key_path"], [huge])


def test_spreadsheet_exports_blanks_and_reader_names(study_pack, tmp_path):
    key = study_pack["key"]
    pid = key["pack_id"]
    rows = [f"{c['case_id']};{pid};Dr A;{'GENERATED' if c['truth'] == 'generated' else 'Real'};4.0;"
            f"{'Yes' if c['disease_label'] else 'N'};ok" for c in key["cases"]]
    rows[-1] = f"{key['cases'][-1]['case_id']};{pid};Dr A;;;;"
    text = "case_id;pack_id;reader;real_or_generated;confidence;disease_present;notes\n" + "\n".join(rows) + "\n"
    sheet = tmp_path / "excel.csv"
    sheet.write_bytes(b"\xef\xbb\xbf" + text.encode())
    with pytest.raises(InputError, match="left blank"):
        score_sheets(study_pack["key_path"], [sheet])
    res = score_sheets(study_pack["key_path"], [sheet], allow_blank=True)
    r = res["readers"][0]
    assert r["reader"] == "Dr A" and r["answered"] == 7 and r["blank"] == 1
    assert r["source"]["accuracy"]["estimate"] == 1.0 and r["source"]["mean_confidence"] == 4.0
    copy = tmp_path / "copy.csv"
    copy.write_bytes(sheet.read_bytes())
    with pytest.raises(InputError, match="reader 'Dr A' names two sheets"):
        score_sheets(study_pack["key_path"], [sheet, copy], allow_blank=True)


def test_cli_make_and_score_end_to_end(study_inputs, tmp_path, capsys):
    pack, key = tmp_path / "pack", tmp_path / "private" / "key.json"
    rc = main(["reader-study", "make", "--real", str(study_inputs["cohort"]), "--generated",
               str(study_inputs["generated"]), "--out", str(pack), "--key", str(key), "--n-real", "3",
               "--n-generated", "3", "--seed", "11", "--gif-scale", "1", "--strip-scale", "1", "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "6 cases (3 real, 3 generated)" in printed and "audit: gif_bytes" in printed
    k = json.loads(key.read_text())
    assert k["disease"] is None and "disease_present" not in (pack / "case_sheet.csv").read_text()
    ans = {c["case_id"]: (c["truth"], None, None) for c in k["cases"]}
    s1 = fill_sheet(pack / "case_sheet.csv", tmp_path / "r1.csv", ans, reader="R1")
    flipped = {c: ("real" if a[0] == "generated" else "generated", 2, None) for c, a in ans.items()}
    s2 = fill_sheet(pack / "case_sheet.csv", tmp_path / "r2.csv", flipped, reader="R2")
    out = tmp_path / "scores"
    assert main(["reader-study", "score", "--key", str(key), "--sheets", str(s1), str(s2), "--out", str(out),
                 "--pack", str(pack), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [r["source"]["accuracy"]["estimate"] for r in res["readers"]] == [1.0, 0.0]
    assert res["agreement"]["source"]["cohen_pairs"][0]["cohen_kappa"] == pytest.approx(-1.0)
    assert res["pooled"]["source"]["accuracy"]["k"] == 6
    table = (out / "table.md").read_text()
    assert "| R1 | 6 | 1.00 [0.61, 1.00] (6/6) |" in table and "Fleiss' kappa -1.000" in table
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "results.json").read_text()) == res
    gif = pack / "cases" / "C02.gif"
    data = bytearray(gif.read_bytes())
    data[-10] ^= 0xFF
    gif.write_bytes(bytes(data))
    rc = main(["reader-study", "score", "--key", str(key), "--sheets", str(s1), "--out", str(out), "--pack", str(pack)])
    assert rc == 2 and "not the pack this key was made with (changed: cases/C02.gif)" in capsys.readouterr().err
    rc = main(["reader-study", "make", "--real", str(study_inputs["cohort"]), "--generated",
               str(study_inputs["generated"]), "--out", str(tmp_path / "p2"), "--key", str(tmp_path / "p2" / "k.json")])
    assert rc == 2 and "inside the pack" in capsys.readouterr().err


def test_key_validation(tmp_path):
    bad = tmp_path / "k.json"
    bad.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(InputError, match="not a reader-study key"):
        score_sheets(bad, [tmp_path / "s.csv"])
    bad.write_text(json.dumps({"format": "cardionets-reader-study-key", "version": 1, "pack_id": "x"}))
    with pytest.raises(InputError, match="no valid 'pack_sha256'"):
        score_sheets(bad, [tmp_path / "s.csv"])
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not a JSON key"):
        score_sheets(bad, [tmp_path / "s.csv"])
