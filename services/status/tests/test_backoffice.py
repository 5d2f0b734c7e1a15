"""Back-office rules: validation, office ownership, versions, bulk reading (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from gerbang.messages import Stage
from gerbang_status.backoffice import (
    BulkFormatError,
    ChangeError,
    ForbiddenOffice,
    apply_change,
    parse_change,
    read_bulk,
)
from gerbang_status.parsing import DEFAULT_FORMAT

from .conftest import make_record

TODAY = dt.date(2025, 11, 25)
NOW = dt.datetime(2025, 11, 25, 3, 0, tzinfo=dt.UTC)
ROW = {"application_no": "1234-5678-90123", "stage": "paid", "date_of_birth": "12-05-1990",
       "applicant_name": "Siti Rahayu", "wa_id": "0812-3456-7890"}  # fmt: skip


def test_parse_change_normalises() -> None:
    change = parse_change(ROW, DEFAULT_FORMAT, TODAY)
    assert change.application_no == "1234567890123"
    assert change.stage is Stage.PAID
    assert change.date_of_birth == dt.date(1990, 5, 12)
    assert change.wa_id == "6281234567890"
    assert (
        parse_change({**ROW, "stage": "Ready for pickup"}, DEFAULT_FORMAT, TODAY).stage
        is Stage.READY_FOR_PICKUP
    )


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"application_no": ""}, "application_no"),
        ({"application_no": "12"}, "application_no"),
        ({"stage": "lost"}, "stage"),
        ({"stage": None}, "stage"),
        ({"date_of_birth": "31-02-1990"}, "date_of_birth"),
        ({"date_of_birth": "01-01-2099"}, "date_of_birth"),
        ({"wa_id": "abc"}, "wa_id"),
        ({"note": "x" * 501}, "note"),
        ({"applicant_name": ["a"]}, "applicant_name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_parse_change_names_the_field(override: dict[str, object], field: str) -> None:
    with pytest.raises(ChangeError) as caught:
        parse_change({**ROW, **override}, DEFAULT_FORMAT, TODAY)
    assert caught.value.field == field
    assert f"field {field}" in str(caught.value)


def test_new_application_is_version_1() -> None:
    change = parse_change(ROW, DEFAULT_FORMAT, TODAY)
    record = apply_change(None, change, office="jakpus", updated_by="api:jakpus", now=NOW)
    assert record is not None and record.version == 1 and record.office == "jakpus"


def test_update_keeps_omitted_fields_and_bumps_the_version() -> None:
    current = make_record(stage=Stage.PAID, version=3)
    change = parse_change({"application_no": current.application_no, "stage": "biometrics"},
                          DEFAULT_FORMAT, TODAY)  # fmt: skip
    record = apply_change(current, change, office="jakpus", updated_by="x", now=NOW)
    assert record is not None and record.version == 4 and record.stage is Stage.BIOMETRICS
    assert record.date_of_birth == current.date_of_birth
    assert record.applicant_name == current.applicant_name


def test_no_change_publishes_nothing() -> None:
    current = make_record(stage=Stage.PAID, version=3)
    change = parse_change({"application_no": current.application_no, "stage": "paid"},
                          DEFAULT_FORMAT, TODAY)  # fmt: skip
    assert apply_change(current, change, office="jakpus", updated_by="x", now=NOW) is None


def test_note_cleared_by_empty_value() -> None:
    current = make_record(stage=Stage.NEEDS_ACTION, note="bawa KK")
    change = parse_change({"application_no": current.application_no, "stage": "in_process",
                           "note": ""}, DEFAULT_FORMAT, TODAY)  # fmt: skip
    record = apply_change(current, change, office="jakpus", updated_by="x", now=NOW)
    assert record is not None and record.note is None


def test_another_offices_application_is_forbidden() -> None:
    change = parse_change(ROW, DEFAULT_FORMAT, TODAY)
    with pytest.raises(ForbiddenOffice):
        apply_change(make_record(office="bogor"), change, office="jakpus", updated_by="x", now=NOW)
    with pytest.raises(ForbiddenOffice):
        apply_change(None, parse_change({**ROW, "office": "bogor"}, DEFAULT_FORMAT, TODAY),
                     office="jakpus", updated_by="x", now=NOW)  # fmt: skip


def test_new_application_needs_birth_date_and_name() -> None:
    change = parse_change({"application_no": "1234567", "stage": "paid"}, DEFAULT_FORMAT, TODAY)
    with pytest.raises(ChangeError, match="date_of_birth"):
        apply_change(None, change, office="jakpus", updated_by="x", now=NOW)


def test_read_csv_with_semicolons_and_bom() -> None:
    body = (
        "\ufeffapplication_no;stage;date_of_birth;applicant_name\n"
        "111111;paid;12-05-1990;A\n\n222222;printed;;\n"
    )
    rows = list(read_bulk(body.encode(), "text/csv"))
    assert rows == [
        (2, {"application_no": "111111", "stage": "paid", "date_of_birth": "12-05-1990",
             "applicant_name": "A"}),
        (4, {"application_no": "222222", "stage": "printed", "date_of_birth": "",
             "applicant_name": ""}),
    ]  # fmt: skip


def test_read_csv_refuses_a_missing_header() -> None:
    with pytest.raises(BulkFormatError, match="application_no"):
        list(read_bulk(b"111111,paid\n", "text/csv"))
    with pytest.raises(BulkFormatError, match="unknown column"):
        list(read_bulk(b"application_no,stage,colour\n", None))


def test_read_json_lines() -> None:
    body = b'{"application_no": "111111", "stage": "paid"}\nnot json\n[1]\n'
    rows = list(read_bulk(body, None))
    assert rows[0] == (1, {"application_no": "111111", "stage": "paid"})
    assert rows[1][0] == 2 and "not valid JSON" in rows[1][1]
    assert rows[2] == (3, "each line must be a JSON object")
