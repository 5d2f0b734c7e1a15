"""What each stage of a passport application means for the applicant, and what to do next.

The texts (stage names, next steps) are in `offices/_national/texts.yaml`; their facts come
only from ../shared/reference/paspor-facts.md:
- 2.1: M-Paspor is the only official application channel; at the office: document check,
  photo, fingerprints, interview;
- 2.2: originals are shown at the interview;
- 2.5: the billing code (Kode Bayar MPN G2) is paid at banks, Kantor Pos, Indomaret,
  marketplaces, e-wallets; keep the proof of payment (BPN) for pickup;
- 2.6: about 3–4 working days after all steps (office staff quoted in the news, not an
  official SLA, so it is given as an estimate); pickup with KTP and proof of payment, or
  delivery by PT Pos Indonesia for a fee; collect within 30 days of issuance or the system
  cancels it and you start over.
The payment deadline (2 hours, 2022–2023 statements; 2.10 says unconfirmed today) is not
stated: the applicant is pointed to the deadline M-Paspor shows.
"""

from __future__ import annotations

from gerbang.messages import Stage
from gerbang.offices import Lang, Office, OfficeRegistry
from gerbang.texts import render_text

# The stage names and next steps are catalogue texts (`offices/_national/texts.yaml`):
# `stage.<stage>` and `stage_next.<stage>`.
STAGE_TEXT_IDS: tuple[str, ...] = tuple(
    f"{kind}.{stage.value}" for kind in ("stage", "stage_next") for stage in Stage
)

FINAL_STAGES = frozenset({Stage.PICKED_UP, Stage.REJECTED, Stage.CANCELLED})
"""Stages after which nothing changes any more: no notification opt-in is offered."""

NOTE_MAX = 500


def stage_label(registry: OfficeRegistry, office: Office, stage: Stage, lang: Lang) -> str:
    """The stage's name, e.g. 'Siap diambil' / 'Ready for pickup'."""
    return render_text(registry, office, f"stage.{stage.value}", lang)


def next_step(
    registry: OfficeRegistry, stage: Stage, lang: Lang, office: Office, note: str | None = None
) -> str:
    """What the applicant does next; for `needs_action`, the office's note comes first."""
    step = render_text(registry, office, f"stage_next.{stage.value}", lang)
    if stage is Stage.NEEDS_ACTION and note and note.strip():
        why = render_text(
            registry, office, "status.office_note", lang, note=note.strip()[:NOTE_MAX]
        )
        return f"{why}\n{step}"
    return step


def describe(
    registry: OfficeRegistry,
    application_no: str,
    stage: Stage,
    lang: Lang,
    office: Office,
    note: str | None = None,
) -> str:
    """The status message: application number, stage, next step."""
    return render_text(
        registry,
        office,
        "status.describe",
        lang,
        application_no=application_no,
        stage=stage_label(registry, office, stage, lang),
        next_step=next_step(registry, stage, lang, office, note),
    )
