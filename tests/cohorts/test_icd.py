"""ICD-9 -> disease table keyed by the engine's disease names; ICD-10 passes through."""
from cardionets.cohorts.icd import icd9_rules, icd9_to_icd10, normalise_code, to_icd10
from cardionets.data.schema import DISEASES, cm_subtype_of, icd10_disease


def test_table_rows_name_engine_diseases():
    assert {r.disease for r in icd9_rules()} <= set(DISEASES)
    assert {r.disease for r in icd9_rules()} == {"CAD", "HF", "CM", "PH", "PERI"}


def test_icd9_codes_map_to_the_same_disease_and_subtype():
    cases = {"410.01": "CAD", "4111": "CAD", "412": "CAD", "41401": "CAD", "4280": "HF", "428.22": "HF",
             "4254": "CM", "4255": "CM", "4160": "PH", "4168": "PH", "420.91": "PERI", "4232": "PERI"}
    for code, disease in cases.items():
        assert icd10_disease(icd9_to_icd10(code)) == disease, code
    assert cm_subtype_of(icd9_to_icd10("42511")) == 1 and cm_subtype_of(icd9_to_icd10("4251")) == 1
    assert cm_subtype_of(icd9_to_icd10("4254")) == -1        # ICD-9 has no DCM-only code
    for code in ("4019", "415", "421", "422", "429", "V4581", "E8790", "", None, "nan"):
        assert icd9_to_icd10(code) == ""


def test_icd10_passes_through_normalised():
    assert normalise_code(" i25.1 ") == "I251"
    assert to_icd10("I25.1", 10) == "I251" and to_icd10("41401", 9) == "I20"
