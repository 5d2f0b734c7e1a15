"""Stage texts, the lockout policy and notification decisions (pure)."""

from __future__ import annotations

import pytest

from gerbang.messages import Stage, TemplateContent, TextContent
from gerbang.offices import OfficeRegistry
from gerbang_status.lockout import (
    LockoutPolicy,
    LockScope,
    LockState,
    counts_for_application,
    is_number_on_file,
    needs_turn,
)
from gerbang_status.notify import OptInRecord, advance, idempotency_key, notification, should_notify
from gerbang_status.stages import STAGE_TEXT_IDS, describe, next_step, stage_label

from .conftest import make_record


@pytest.mark.parametrize("stage", list(Stage))
def test_every_stage_has_both_languages(stage: Stage, registry: OfficeRegistry) -> None:
    office = registry.get("jakpus")
    assert f"stage.{stage.value}" in STAGE_TEXT_IDS
    for lang in ("id", "en"):
        assert stage_label(registry, office, stage, lang)
        step = next_step(registry, stage, lang, office)
        assert step and "{" not in step
    assert stage_label(registry, office, stage, "id") != stage_label(registry, office, stage, "en")


def test_ready_for_pickup_has_the_30_days_and_what_to_bring(registry: OfficeRegistry) -> None:
    office = registry.get("jakpus")
    step_id = next_step(registry, Stage.READY_FOR_PICKUP, "id", office)
    step_en = next_step(registry, Stage.READY_FOR_PICKUP, "en", office)
    assert "30 hari" in step_id and "KTP" in step_id and "bukti pembayaran" in step_id
    assert "30 days" in step_en and "KTP" in step_en and "proof of payment" in step_en
    assert office.short_name in step_id


def test_needs_action_shows_the_note_first(registry: OfficeRegistry) -> None:
    office = registry.get("jakpus")
    text = describe(
        registry, "1234567", Stage.NEEDS_ACTION, "id", office, note="Bawa akta kelahiran asli."
    )
    assert "Keterangan dari kantor: Bawa akta kelahiran asli." in text
    assert "Bawa akta" not in describe(
        registry, "1234567", Stage.IN_PROCESS, "id", office, note="Bawa akta"
    )


def test_lockout_policy() -> None:
    policy = LockoutPolicy(max_failures_per_wa_id=5, max_failures_per_application=10)
    assert not policy.locks_after_failure(LockScope.WA_ID, 4)
    assert policy.locks_after_failure(LockScope.WA_ID, 5)
    assert not policy.locks_after_failure(LockScope.APPLICATION, 9)
    assert policy.locks_after_failure(LockScope.APPLICATION, 10)
    assert LockState(0, 0).locked is False
    assert LockState(0, 30).locked and LockState(20, 30).seconds_left == 30
    with pytest.raises(ValueError, match="at least 1"):
        LockoutPolicy(max_failures_per_wa_id=0)
    with pytest.raises(ValueError, match="at least 1 second"):
        LockoutPolicy(guarded_retry_seconds=0)


@pytest.mark.parametrize(
    ("guarded", "on_file", "turn", "counts"),
    [
        (False, False, False, True),  # a stranger, unguarded: looks up, failures count
        (True, False, True, True),  # a stranger, guarded: waits for the shared turn
        (True, True, False, False),  # the owner's number passes a guard, guards nothing
        (False, True, False, False),
    ],
)
def test_the_owner_passes_a_guard_and_strangers_share_a_turn(
    guarded: bool, on_file: bool, turn: bool, counts: bool
) -> None:
    assert needs_turn(guarded=guarded, on_file=on_file) is turn
    assert counts_for_application(on_file=on_file) is counts


@pytest.mark.parametrize(
    ("on_file", "wa_id", "same"),
    [
        ("6281234567890", "6281234567890", True),
        ("081234567890", "6281234567890", True),  # as an office might type it
        ("+62 812-3456-7890", "6281234567890", True),
        ("6281234567890", "6281234567891", False),
        (None, "6281234567890", False),
        ("", "6281234567890", False),
    ],
)
def test_number_on_file(on_file: str | None, wa_id: str, same: bool) -> None:
    assert is_number_on_file(on_file, wa_id) is same


def _optin(version: int = 2, stage: Stage = Stage.PAID) -> OptInRecord:
    return OptInRecord("1234567890123", "jakpus", "6281234567890", "id", version, stage)


def test_one_notification_per_stage_change() -> None:
    optin = _optin()
    assert should_notify(optin, make_record(stage=Stage.BIOMETRICS, version=3))
    assert not should_notify(optin, make_record(stage=Stage.PAID, version=3))  # note only
    assert not should_notify(optin, make_record(stage=Stage.BIOMETRICS, version=2))  # replay
    assert not should_notify(optin, make_record(stage=Stage.BIOMETRICS, version=1))
    moved = advance(optin, make_record(stage=Stage.BIOMETRICS, version=3))
    assert (moved.notified_version, moved.notified_stage) == (3, Stage.BIOMETRICS)
    assert not should_notify(moved, make_record(stage=Stage.BIOMETRICS, version=3))
    assert advance(moved, make_record(stage=Stage.PAID, version=1)) == moved


def test_notification_carries_the_template_fallback(registry: OfficeRegistry) -> None:
    record = make_record(stage=Stage.READY_FOR_PICKUP, version=4)
    reply = notification(_optin(), record, registry.get("jakpus"), registry)
    assert reply.idempotency_key == idempotency_key(record) == "status:1234567890123:v4"
    assert reply.wa_id == "6281234567890" and reply.office == "jakpus"
    assert reply.phone_number_id == registry.get("jakpus").whatsapp.phone_number_id
    assert isinstance(reply.content, TextContent) and "Siap diambil" in reply.content.body
    assert reply.template_fallback == TemplateContent(
        name="status_paspor_update", language="id",
        body_parameters=["1234567890123", "Siap diambil"],
    )  # fmt: skip


def test_office_without_template_sends_text_only(registry: OfficeRegistry) -> None:
    record = make_record(office="bogor", stage=Stage.PRINTED, version=4)
    optin = OptInRecord(record.application_no, "bogor", "6281234567890", "en", 1, Stage.PAID)
    reply = notification(optin, record, registry.get("bogor"), registry)
    assert reply.template_fallback is None
    assert "Passport printed" in reply.content.body  # type: ignore[union-attr]
