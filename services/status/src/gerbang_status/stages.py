"""What each stage of a passport application means for the applicant, and what to do next.

Facts only from ../shared/reference/paspor-facts.md:
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

from dataclasses import dataclass

from gerbang.messages import Stage
from gerbang.offices import Lang, Office


@dataclass(frozen=True)
class StageText:
    """A stage in both languages: its name and the applicant's next step."""

    label_id: str
    label_en: str
    next_id: str
    next_en: str

    def label(self, lang: Lang) -> str:
        """The stage's name in `lang`."""
        return self.label_en if lang == "en" else self.label_id

    def next_step(self, lang: Lang) -> str:
        """The next step in `lang` (may contain `{office}`)."""
        return self.next_en if lang == "en" else self.next_id


STAGES: dict[Stage, StageText] = {
    Stage.SUBMITTED: StageText(
        "Permohonan terdaftar",
        "Application registered",
        "Bayar kode billing (Kode Bayar MPN G2) sebelum batas waktu yang tertera di aplikasi "
        "M-Paspor, melalui bank (teller, ATM, internet/m-banking), Kantor Pos, Indomaret, "
        "marketplace, atau dompet digital. Simpan bukti pembayarannya.",
        "Pay the billing code (Kode Bayar MPN G2) before the deadline shown in the M-Paspor "
        "app, at a bank (teller, ATM, internet/mobile banking), Kantor Pos, Indomaret, a "
        "marketplace or an e-wallet. Keep the proof of payment.",
    ),
    Stage.PAID: StageText(
        "Pembayaran diterima",
        "Payment received",
        "Datang ke {office} pada jadwal kedatangan yang Anda pilih di M-Paspor untuk "
        "pemeriksaan dokumen, foto, sidik jari, dan wawancara. Bawa dokumen asli dan bukti "
        "pembayaran.",
        "Come to {office} on the arrival date you chose in M-Paspor for the document check, "
        "photo, fingerprints and interview. Bring the original documents and the proof of "
        "payment.",
    ),
    Stage.BIOMETRICS: StageText(
        "Foto, sidik jari, dan wawancara selesai",
        "Photo, fingerprints and interview done",
        "Tidak ada yang perlu Anda lakukan sekarang. Paspor umumnya terbit sekitar 3–4 hari "
        "kerja setelah semua tahap selesai (perkiraan, bukan jaminan).",
        "Nothing to do for now. A passport is usually issued about 3–4 working days after "
        "all steps are complete (an estimate, not a guarantee).",
    ),
    Stage.IN_PROCESS: StageText(
        "Sedang diproses",
        "In process",
        "Tidak ada yang perlu Anda lakukan sekarang. Mohon tunggu kabar berikutnya.",
        "Nothing to do for now. Please wait for the next update.",
    ),
    Stage.APPROVED: StageText(
        "Disetujui",
        "Approved",
        "Paspor Anda akan dicetak. Mohon tunggu sampai status menjadi siap diambil.",
        "Your passport will be printed. Please wait until it is ready for pickup.",
    ),
    Stage.PRINTED: StageText(
        "Paspor sudah dicetak",
        "Passport printed",
        "Mohon tunggu sampai status menjadi siap diambil.",
        "Please wait until it is ready for pickup.",
    ),
    Stage.READY_FOR_PICKUP: StageText(
        "Siap diambil",
        "Ready for pickup",
        "Ambil paspor di {office} dengan membawa KTP dan bukti pembayaran. Paspor harus "
        "diambil dalam 30 hari sejak terbit; jika tidak, permohonan dibatalkan oleh sistem "
        "dan Anda harus mengajukan dari awal. Paspor juga dapat dikirim ke rumah melalui "
        "PT Pos Indonesia (berbayar).",
        "Collect your passport at {office}, bringing your KTP and the proof of payment. It "
        "must be collected within 30 days of issuance; otherwise the system cancels the "
        "application and you have to apply again. Home delivery by PT Pos Indonesia is also "
        "available (for a fee).",
    ),
    Stage.PICKED_UP: StageText(
        "Sudah diambil",
        "Collected",
        "Paspor sudah diambil. Terima kasih.",
        "The passport has been collected. Thank you.",
    ),
    Stage.NEEDS_ACTION: StageText(
        "Perlu tindakan Anda",
        "Action needed",
        "Silakan hubungi atau datang ke {office} untuk keterangan lebih lanjut.",
        "Please contact or visit {office} for details.",
    ),
    Stage.REJECTED: StageText(
        "Permohonan ditolak",
        "Application rejected",
        "Untuk mengetahui alasannya, silakan hubungi atau datang ke {office}.",
        "For the reason, please contact or visit {office}.",
    ),
    Stage.CANCELLED: StageText(
        "Permohonan dibatalkan",
        "Application cancelled",
        "Jika Anda masih memerlukan paspor, ajukan permohonan baru melalui aplikasi M-Paspor.",
        "If you still need a passport, apply again through the M-Paspor app.",
    ),
}

FINAL_STAGES = frozenset({Stage.PICKED_UP, Stage.REJECTED, Stage.CANCELLED})
"""Stages after which nothing changes any more: no notification opt-in is offered."""

NOTE_MAX = 500


def stage_label(stage: Stage, lang: Lang) -> str:
    """The stage's name, e.g. 'Siap diambil' / 'Ready for pickup'."""
    return STAGES[stage].label(lang)


def next_step(stage: Stage, lang: Lang, office: Office, note: str | None = None) -> str:
    """What the applicant does next; for `needs_action`, the office's note comes first."""
    step = STAGES[stage].next_step(lang).format(office=office.short_name)
    if stage is Stage.NEEDS_ACTION and note and note.strip():
        why = "Keterangan dari kantor" if lang == "id" else "Note from the office"
        return f"{why}: {note.strip()[:NOTE_MAX]}\n{step}"
    return step


def describe(
    application_no: str, stage: Stage, lang: Lang, office: Office, note: str | None = None
) -> str:
    """The status message: application number, stage, next step."""
    head = "Status permohonan paspor" if lang == "id" else "Passport application status"
    nxt = "Langkah berikutnya" if lang == "id" else "Next step"
    return (
        f"{head} *{application_no}* ({office.short_name}):\n"
        f"*{stage_label(stage, lang)}*\n\n"
        f"{nxt}: {next_step(stage, lang, office, note)}"
    )
