"""The ops dashboard's pure parts: stats folding, sessions and office rule, letter offices."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from gerbang.opsstats import hour_bucket, last_hours, merge, percentile, summarize
from gerbang_devtools.simulator import SimulatedMessage, webhook_for
from gerbang_gateway.ops.access import ALL_OFFICES, Viewer, csrf_ok
from gerbang_gateway.ops.deadletters import NATIONAL_BUCKET, letter_office
from gerbang_gateway.ops.feedback import FeedbackItem, _items
from gerbang_gateway.ops.staff import (
    DEV_STAFF_FILE,
    DEV_STAFF_PASSWORD,
    HASHER,
    NATIONAL,
    Role,
    StaffAccount,
    StaffFileError,
    add_account,
    load_staff,
)
from gerbang_gateway.settings import GatewaySettings
from gerbang_gateway.webhook import parse_webhook
from tests.support.whatsapp import REGISTRY

NOW = dt.datetime(2026, 3, 2, 10, 42, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("samples", "q", "expected"),
    [
        ([], 50, None),
        ([7.0], 95, 7.0),
        ([1, 2, 3, 4], 50, 2),
        ([float(i) for i in range(1, 101)], 95, 95.0),
        ([5, 1, 9, 3], 100, 9),
    ],
)
def test_percentile_nearest_rank(samples: list[float], q: float, expected: float | None) -> None:
    assert percentile(samples, q) == expected


def test_last_hours_ends_with_the_current_hour() -> None:
    hours = last_hours(NOW, 24)
    assert len(hours) == 24
    assert hours[-1] == dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    assert hours[0] == dt.datetime(2026, 3, 1, 11, tzinfo=dt.UTC)
    assert hour_bucket(hours[-1]) == "2026030210"
    # An aware time in WIB lands in the same UTC bucket.
    assert hour_bucket(NOW.astimezone(dt.timezone(dt.timedelta(hours=7)))) == "2026030210"


def test_summarize_folds_counters_by_kind() -> None:
    hours = last_hours(NOW, 2)
    stats = summarize(
        hours,
        [
            {"in": "3", "intent:faq:fees": "2", "intent:menu": "1", "fail:131047": "1"},
            {
                "in": "1",
                "intent:faq:fees": "1",
                "out": "4",
                "lookup:found": "2",
                "lookup:locked": "1",
            },
        ],
        [100.0, 300.0, 200.0],
    )
    assert [h.messages_in for h in stats.hours] == [3, 1]
    assert stats.messages_in == 4
    assert stats.intents == {"faq:fees": 3, "menu": 1}
    assert stats.failures == {"131047": 1}
    assert stats.replies_out == 4
    assert stats.lookups == {"found": 2, "locked": 1}
    assert stats.lockouts == 1
    assert stats.p50_ms == 200.0
    assert stats.p95_ms == 300.0


def test_merge_sums_offices_hour_by_hour() -> None:
    hours = last_hours(NOW, 2)
    a = summarize(hours, [{"in": "1", "intent:menu": "1"}, {}], [10.0])
    b = summarize(hours, [{"in": "2"}, {"in": "5", "intent:menu": "2"}], [30.0])
    total = merge([a, b])
    assert [h.messages_in for h in total.hours] == [3, 5]
    assert total.intents == {"menu": 3}
    assert sorted(total.latencies_ms) == [10.0, 30.0]


DEV = {office.code for office in REGISTRY}


def test_dev_seed_accounts_sign_in_with_the_dev_password() -> None:
    staff = load_staff(None, DEV, development=True)
    agent = staff.authenticate("jakpus.agent", DEV_STAFF_PASSWORD)
    assert agent is not None and agent.office == "jakpus" and agent.role is Role.AGENT
    assert staff.authenticate("jakpus.agent", "wrong-password") is None
    assert staff.authenticate("nobody", DEV_STAFF_PASSWORD) is None
    national = staff.authenticate("national", DEV_STAFF_PASSWORD)
    assert national is not None and Viewer.of(national).national
    assert {a.office for a in staff} >= {"jakpus", "bogor", "batam", NATIONAL}


def test_dev_seed_serves_the_offices_that_run() -> None:
    """`bench/run.py --offices jakpus`: the seed's other offices' accounts are left out."""
    staff = load_staff(None, {"jakpus"}, development=True)
    assert {a.office for a in staff} == {"jakpus", NATIONAL}
    assert staff.authenticate("bogor.lead", DEV_STAFF_PASSWORD) is None


def test_production_refuses_the_dev_seed_and_needs_a_file() -> None:
    with pytest.raises(StaffFileError, match="GERBANG_STAFF_FILE"):
        load_staff(None, DEV, development=False)
    with pytest.raises(StaffFileError, match="development seed"):
        load_staff(DEV_STAFF_FILE, DEV, development=False)


def test_staff_file_round_trip_and_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "staff.yaml"
    account = StaffAccount(
        username="bogor.rina",
        name="Rina",
        office="bogor",
        role=Role.OFFICE_LEAD,
        password_hash=HASHER.hash("a-long-password-1"),
    )
    add_account(path, account)
    staff = load_staff(path, DEV, development=False)
    assert staff.authenticate("bogor.rina", "a-long-password-1") == account
    path.write_text(path.read_text().replace("office: bogor", "office: nowhere"))
    with pytest.raises(StaffFileError, match=r"accounts\.0\.office: unknown office 'nowhere'"):
        load_staff(path, DEV, development=False)
    path.write_text("accounts:\n- username: x\n")
    with pytest.raises(StaffFileError, match=r"staff.yaml: accounts\.0\.username"):
        load_staff(path, DEV, development=False)
    with pytest.raises(ValueError, match="national"):
        StaffAccount(
            username="abc", name="n", office="*", role=Role.AGENT, password_hash="$argon2id$x"
        )


def test_office_viewer_sees_only_its_office() -> None:
    jakpus = Viewer("jakpus")
    assert jakpus.may_see("jakpus")
    assert not jakpus.may_see("bogor")
    assert not jakpus.may_see(ALL_OFFICES)
    assert not jakpus.lead and Viewer("jakpus", role=Role.OFFICE_LEAD).lead
    national = Viewer(NATIONAL, role=Role.NATIONAL)
    assert national.may_see("bogor") and national.may_see(ALL_OFFICES)
    assert national.home == ALL_OFFICES and jakpus.home == "jakpus"


def test_csrf_tokens_compare_exactly() -> None:
    assert csrf_ok("abc", "abc")
    assert not csrf_ok("abc", "abd")
    assert not csrf_ok("", "")
    assert not csrf_ok(None, "abc")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("jakpus:6281234567890", "jakpus"),
        ("bogor:62857", "bogor"),
        ("nowhere:6281234567890", NATIONAL_BUCKET),
        ("JKP-2026-000001", NATIONAL_BUCKET),
        ("B1234567", NATIONAL_BUCKET),
        (None, NATIONAL_BUCKET),
        ("", NATIONAL_BUCKET),
    ],
)
def test_letter_office_from_key(key: str | None, expected: str) -> None:
    assert letter_office(key, ["jakpus", "bogor", "batam"]) == expected


def test_feedback_items_are_masked_and_lists_read_in_both_shapes() -> None:
    item = FeedbackItem.from_api(
        {
            "ticket": "JKP-2026-000001",
            "office": "jakpus",
            "phone": "6281234567890",
            "kind": "complaint",
            "received_at": "2026-03-02T10:42:00+00:00",
            "text": "x",
        }
    )
    assert item.phone == "62********890"
    assert item.received_at == "2026-03-02 10:42"
    assert _items([{"ticket": "a"}]) == [{"ticket": "a"}]
    assert _items({"items": [{"ticket": "b"}], "total": 1}) == [{"ticket": "b"}]


@pytest.mark.parametrize(
    "fields",
    [
        {"text": "syarat paspor"},
        {"reply_id": "faq:fees", "title": "Biaya paspor", "kind": "list_reply"},
        {"reply_id": "feedback:complaint|choose", "title": "Keluhan", "kind": "button_reply"},
    ],
)
def test_simulated_webhook_parses_to_the_chosen_office(fields: dict[str, str]) -> None:
    message = SimulatedMessage(office="bogor", wa_id="6281234567890", **fields)
    office = REGISTRY.get("bogor")
    body = json.dumps(webhook_for(message, office)).encode()
    parsed = parse_webhook(body, REGISTRY, received_at=NOW)
    assert [m.office for m in parsed.messages] == ["bogor"]
    inbound = parsed.messages[0]
    assert inbound.wa_id == "6281234567890"
    if "text" in fields:
        assert inbound.text == "syarat paspor"
    else:
        assert inbound.reply_id == fields["reply_id"]


def test_production_refuses_the_dev_feedback_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GERBANG_VERIFY_TOKEN", "real-verify-token")
    base = {"environment": "production", "simulator_enabled": False, "staff_file": "/x.yaml"}
    assert GatewaySettings(**base).feedback_key is None
    with pytest.raises(ValueError, match="feedback_api_key"):
        GatewaySettings(**base, feedback_api_key="dev-national-feedback-api-key")
    assert GatewaySettings().feedback_key == "dev-national-feedback-api-key"


@pytest.mark.parametrize(
    "path", ["/simulator", "/simulator/replies?office=jakpus&wa_id=6281234567890"]
)
def test_simulator_is_404_when_switched_off(path: str) -> None:
    from fastapi.testclient import TestClient

    from gerbang_gateway.api import create_app

    app = create_app(GatewaySettings(simulator_enabled=False))
    # No lifespan: the switch is checked before anything touches Kafka or Redis.
    client = TestClient(app)
    assert client.get(path).status_code == 404
    sent = client.post(
        "/simulator/send", json={"office": "jakpus", "wa_id": "6281234567890", "text": "halo"}
    )
    assert sent.status_code == 404


def test_national_table_is_busiest_first_and_filters_by_name_or_place() -> None:
    from gerbang.opsstats import HourCount, OfficeStats
    from gerbang_gateway.ops.pages import _per_office_rows

    offices = [REGISTRY.get(code) for code in ("jakpus", "bogor", "batam", "medan", "polonia")]
    traffic = {"jakpus": 5, "bogor": 0, "batam": 9, "medan": 2, "polonia": 0}
    parts = [OfficeStats(hours=[HourCount(NOW, traffic[o.code])]) for o in offices]
    rows = _per_office_rows(offices, parts, "")
    assert [o.code for o, _ in rows][:3] == ["batam", "jakpus", "medan"]
    assert len(rows) == len(offices)
    # Words match code, names, service and address, case-insensitively, all of them.
    assert [o.code for o, _ in _per_office_rows(offices, parts, "MEDAN")] == ["medan", "polonia"]
    assert [o.code for o, _ in _per_office_rows(offices, parts, "polonia medan")] == ["polonia"]
    assert _per_office_rows(offices, parts, "surabaya") == []
