"""Stage-change notifications for opted-in applicants (pure decisions and message building).

Exactly one message per stage change: each opt-in remembers the last version it has
considered and the stage it had then (`NotifyState`). A record notifies when its version is
newer than that and its stage differs; either way the state moves to the record's version.
Replays of `status.updates` (a fresh consumer group, a redelivery) therefore never notify a
version twice, and a change of only the note or the name never notifies.

Past the 24-hour customer-service window WhatsApp allows only approved templates
(whatsapp-cloud-api.md): every notification carries `template_fallback` with the office's
`whatsapp.status_template` (parameters: application number, stage name), which the gateway's
sender uses instead of the text when the citizen's last message is older than 24 hours.
"""

from __future__ import annotations

from dataclasses import dataclass

from gerbang.messages import (
    ApplicationRecord,
    Intent,
    OutboundReply,
    Service,
    Stage,
    TemplateContent,
    TextContent,
)
from gerbang.offices import Lang, Office, OfficeRegistry
from gerbang.texts import render_text
from gerbang_status.stages import describe, stage_label


@dataclass(frozen=True)
class OptInRecord:
    """A wa_id that asked to be told when an application's stage changes."""

    application_no: str
    office: str
    wa_id: str
    lang: Lang
    notified_version: int
    """The last version considered for a notification (sent or not)."""
    notified_stage: Stage
    """The stage at that version."""


def should_notify(optin: OptInRecord, record: ApplicationRecord) -> bool:
    """True if `record` is a newer version with another stage than the applicant last knew."""
    return (
        record.application_no == optin.application_no
        and record.office == optin.office
        and record.version > optin.notified_version
        and record.stage is not optin.notified_stage
    )


def advance(optin: OptInRecord, record: ApplicationRecord) -> OptInRecord:
    """The opt-in after considering `record` (never goes back to an older version)."""
    if record.version <= optin.notified_version:
        return optin
    return OptInRecord(
        optin.application_no, optin.office, optin.wa_id, optin.lang, record.version, record.stage
    )


def idempotency_key(record: ApplicationRecord) -> str:
    """`status:<application_no>:v<version>`: the sender sends each key once."""
    return f"status:{record.application_no}:v{record.version}"


def notification(
    optin: OptInRecord, record: ApplicationRecord, office: Office, registry: OfficeRegistry
) -> OutboundReply:
    """The message announcing `record`'s stage to the opted-in wa_id."""
    lang = optin.lang
    status = describe(registry, record.application_no, record.stage, lang, office, record.note)
    body = render_text(registry, office, "status.update", lang, status=status)
    template = office.whatsapp.status_template
    fallback = (
        TemplateContent(
            name=template.name,
            language=template.language,
            # The parameters are in the template's own (approved) language.
            body_parameters=[
                record.application_no,
                stage_label(
                    registry,
                    office,
                    record.stage,
                    "en" if template.language.startswith("en") else "id",
                ),
            ],
        )
        if template is not None
        else None
    )
    return OutboundReply(
        office=office.code,
        phone_number_id=office.whatsapp.phone_number_id,
        wa_id=optin.wa_id,
        idempotency_key=idempotency_key(record),
        intent=Intent.STATUS,
        service=Service.STATUS,
        content=TextContent(body=body[:4096]),
        template_fallback=fallback,
        language=lang,
    )
