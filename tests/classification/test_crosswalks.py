import csv
from pathlib import Path

import pytest

from atalaya.classification.crosswalks import (
    SCHEMES,
    coverage,
    crosswalk,
    load_crosswalk,
)
from atalaya.classification.iccs import ClassificationFileError, iccs

# The shared reference data sits next to the repository (../shared/data), on CI and locally.
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SESNSP_FILE = SHARED_DATA / "mx-sesnsp" / "IDEFC_NM_may22.csv"
SNIC_FILE = SHARED_DATA / "ar-snic" / "snic-provincias.csv"


def sesnsp_keys() -> set[str]:
    with SESNSP_FILE.open(encoding="latin-1", newline="") as f:
        return {
            f"{r['Tipo de delito']}|{r['Subtipo de delito']}|{r['Modalidad']}"
            for r in csv.DictReader(f)
        }


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_iccs_code_in_a_crosswalk_exists(scheme):
    for mapping in crosswalk(scheme):
        assert mapping.iccs is None or mapping.iccs in iccs(), mapping


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_unmapped_code_says_why_and_is_listed(scheme):
    cw = crosswalk(scheme)
    listed = {m.national_code for m in cw.unmapped()}
    assert listed == {m.national_code for m in cw if m.iccs is None}
    assert all(m.note for m in cw.unmapped())
    counts = coverage(scheme)
    assert (counts.mapped, counts.unmapped, counts.total) == (
        len(cw) - len(listed),
        len(listed),
        len(cw),
    )


@pytest.mark.skipif(not SESNSP_FILE.exists(), reason=f"shared SESNSP file not at {SESNSP_FILE}")
def test_every_sesnsp_crime_type_in_the_published_file_is_in_the_crosswalk():
    cw = crosswalk("mx-sesnsp")
    assert sesnsp_keys() - {m.national_code for m in cw} == set()


@pytest.mark.skipif(not SNIC_FILE.exists(), reason=f"shared SNIC file not at {SNIC_FILE}")
def test_every_snic_code_in_the_published_file_is_in_the_crosswalk():
    with SNIC_FILE.open(encoding="utf-8", newline="") as f:
        published = {
            r["codigo_delito_snic_id"]: r["codigo_delito_snic_nombre"] for r in csv.DictReader(f)
        }
    cw = crosswalk("ar-snic")
    assert {code: cw.map(code).name for code in published if code in cw} == published


@pytest.mark.parametrize(
    ("modality", "expected"),
    [("Con arma de fuego", "0101"), ("No especificado", "0101")],
)
def test_it_maps_intentional_homicide_and_feminicide_to_0101(modality, expected):
    cw = crosswalk("mx-sesnsp")
    assert cw.map(f"Homicidio|Homicidio doloso|{modality}").iccs == expected
    feminicide = cw.map(f"Feminicidio|Feminicidio|{modality}")
    assert feminicide.iccs == expected
    assert "gender" in feminicide.note


def test_it_maps_negligent_homicide_within_0103():
    cw = crosswalk("mx-sesnsp")
    traffic = cw.map("Homicidio|Homicidio culposo|En accidente de tránsito")
    assert traffic.iccs == "010321"
    for modality in ["Con arma de fuego", "No especificado"]:
        code = cw.map(f"Homicidio|Homicidio culposo|{modality}").iccs
        assert code is not None and iccs().is_within(code, "0103")


def test_it_maps_robbery_by_violence():
    cw = crosswalk("mx-sesnsp")
    assert cw.map("Robo|Robo a negocio|Con violencia").iccs == "040132"
    assert iccs().is_within(cw.map("Robo|Robo a negocio|Sin violencia").iccs or "", "05")


def test_it_maps_nibrs_homicides():
    cw = crosswalk("us-nibrs")
    assert cw.map("09A").iccs == "0101"
    assert iccs().is_within(cw.map("09B").iccs or "", "0103")


def test_it_leaves_justifiable_homicide_unmapped_with_a_reason():
    cw = crosswalk("us-nibrs")
    justifiable = cw.map("09C")
    assert justifiable.iccs is None
    assert justifiable.note == "not a crime: excluded from 0101"
    assert justifiable in cw.unmapped()


def test_it_maps_the_colombian_police_homicide_file_to_0101():
    assert crosswalk("co-policia-homicidios").map("homicidio").iccs == "0101"


def test_it_refuses_a_code_the_crosswalk_does_not_list():
    with pytest.raises(KeyError, match="not a us-nibrs code"):
        crosswalk("us-nibrs").map("999")


def test_it_refuses_an_unknown_scheme():
    with pytest.raises(KeyError, match="unknown crosswalk"):
        crosswalk("xx-nothing")


def test_it_rejects_a_crosswalk_pointing_at_a_code_iccs_does_not_have(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("# test\nnational_code,name,iccs,note\nX,Something,0108,\n", encoding="utf-8")
    with pytest.raises(ClassificationFileError, match=r"line 3: '0108' is not an ICCS 1\.0 code"):
        load_crosswalk("bad", path)


def test_it_rejects_an_unmapped_code_without_a_reason(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("national_code,name,iccs,note\nX,Something,,\n", encoding="utf-8")
    with pytest.raises(ClassificationFileError, match="no note why"):
        load_crosswalk("bad", path)


def test_it_rejects_a_crosswalk_without_the_iccs_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("national_code,name,note\nX,Something,why\n", encoding="utf-8")
    with pytest.raises(ClassificationFileError, match="missing column"):
        load_crosswalk("bad", path)


def test_the_docs_coverage_table_matches_the_files():
    docs = Path(__file__).resolve().parents[2] / "docs" / "classification.md"
    text = docs.read_text(encoding="utf-8")
    for scheme in SCHEMES:
        counts = coverage(scheme)
        row = f"| `{scheme}` | {counts.total} | {counts.mapped} | {counts.unmapped} |"
        assert row in text, f"update the coverage table in docs/classification.md: {row}"
