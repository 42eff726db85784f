from collections import Counter
from pathlib import Path

import pytest

from atalaya.classification.iccs import ICCS_FILE, ClassificationFileError, iccs, load_iccs

HEADER = "code,level,parent,name_en,name_es,name_pt,name_fr,attempt\n"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "iccs.csv"
    path.write_text("# test file\n" + HEADER + body, encoding="utf-8")
    return path


def test_it_holds_the_published_structure():
    levels = Counter(code.level for code in iccs())
    assert levels == {"section": 11, "division": 63, "group": 148, "class": 98}


def test_it_has_no_code_0108():
    assert iccs().get("0108") is None
    assert iccs().get("0109") is not None


def test_it_reads_codes_as_text_with_their_leading_zeros():
    code = iccs().get("0101")
    assert code is not None
    assert code.level == "division"
    assert code.parent == "01"


def test_it_names_codes_in_spanish():
    assert iccs().name("0101", "es") == "Homicidio intencional"
    assert iccs().name("01032", "es") == "Homicidio culposo"


def test_it_falls_back_to_english_where_a_title_is_missing():
    assert iccs().name("0101", "pt") == "Intentional homicide"
    assert iccs().name("0101", "xx") == "Intentional homicide"


def test_it_lists_children_and_descendants():
    assert [c.code for c in iccs().children("0201")] == ["02011", "02012", "02019"]
    assert [c.code for c in iccs().descendants("0103")] == ["01031", "01032", "010321", "010322"]
    assert iccs().children("0101") == []


def test_it_knows_what_lies_within_what():
    assert iccs().is_within("020111", "02")
    assert iccs().is_within("0101", "0101")
    assert not iccs().is_within("0102", "0101")
    assert not iccs().is_within("9999", "01")


def test_it_marks_other_categories():
    assert iccs().is_other("0109")
    assert iccs().is_other("02019")
    assert not iccs().is_other("0101")


def test_it_refuses_a_division_that_has_groups():
    assert not iccs().recordable("0201")
    assert not iccs().recordable("02011")
    assert not iccs().recordable("02")


def test_it_accepts_the_most_detailed_codes():
    assert iccs().recordable("020111")
    assert iccs().recordable("0101")
    assert iccs().recordable("02019")
    assert not iccs().recordable("0108")


def test_it_files_attempted_intentional_homicide_under_its_own_code():
    assert iccs().get("0101").attempt == "separate"
    assert not iccs().attempt_allowed("0101")
    assert iccs().get("0102").attempt == "not_applicable"


def test_it_refuses_attempts_of_negligent_acts():
    for code in ["0103", "01032", "010321", "0206", "02063"]:
        assert iccs().get(code).attempt == "not_applicable", code
        assert not iccs().attempt_allowed(code)


def test_it_allows_attempted_assaults_and_threats():
    for code in ["0201", "02011", "020111", "020112", "02012", "02019"]:
        assert iccs().attempt_allowed(code), code


def test_the_shipped_file_has_a_sourced_header():
    header = [line for line in ICCS_FILE.read_text().splitlines() if line.startswith("#")]
    assert any("UNODC" in line and "2015" in line for line in header)
    assert any("attempt" in line for line in header)


def test_it_rejects_a_file_with_0108(tmp_path):
    path = write(tmp_path, "01,section,,A,A,,,allowed\n0108,division,01,B,B,,,allowed\n")
    with pytest.raises(ClassificationFileError, match=r"line 4.*0108"):
        load_iccs(path)


def test_it_rejects_a_code_whose_parent_is_missing(tmp_path):
    path = write(tmp_path, "01,section,,A,A,,,allowed\n02011,group,0201,B,B,,,allowed\n")
    with pytest.raises(ClassificationFileError, match="parent 0201"):
        load_iccs(path)


def test_it_rejects_a_level_that_does_not_match_the_digits(tmp_path):
    path = write(tmp_path, "01,section,,A,A,,,allowed\n0101,group,01,B,B,,,allowed\n")
    with pytest.raises(ClassificationFileError, match="digits of a group"):
        load_iccs(path)


def test_it_rejects_an_unknown_attempt_rule(tmp_path):
    path = write(tmp_path, "01,section,,A,A,,,maybe\n")
    with pytest.raises(ClassificationFileError, match="attempt must be one of"):
        load_iccs(path)


def test_codes_can_be_collected_in_a_set():
    assert len({iccs().get("0101"), iccs().get("0101"), iccs().get("0102")}) == 2
