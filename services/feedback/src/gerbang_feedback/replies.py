"""What the feedback service says to citizens, in Bahasa Indonesia and English (pure).

Every function returns a WhatsApp reply content that already passed the Cloud API limits
(`gerbang.messages` validates: buttons ≤ 3 with titles ≤ 20, body ≤ 1024; text ≤ 4096).
Facts used: the official complaint channels (`offices/_national/national.yaml`), the official
app (M-Paspor) and that fees are paid as PNBP with a billing code (paspor-facts.md 2.5, 2.8).
No promise of a response time is made: the reference has none, offices decide.
"""

from __future__ import annotations

from gerbang.dialogue import OFFER_KEY
from gerbang.messages import (
    Button,
    ButtonsContent,
    Expectation,
    FeedbackKind,
    Service,
    TextContent,
)
from gerbang.offices import Lang, NationalConfig, Office
from gerbang_feedback.classify import CONTACT_REQUESTED

CHOOSE_SUFFIX = "|choose"
PROMPT_TTL_SECONDS = 900
"""How long the prompt waits for the citizen's message (the router keeps the directive)."""

_KIND_TITLES: dict[FeedbackKind, dict[Lang, str]] = {
    FeedbackKind.APPRECIATION: {"id": "Apresiasi", "en": "Appreciation"},
    FeedbackKind.COMPLAINT: {"id": "Keluhan", "en": "Complaint"},
    FeedbackKind.SUGGESTION: {"id": "Saran", "en": "Suggestion"},
    FeedbackKind.SCAM_REPORT: {"id": "Laporan penipuan", "en": "Scam report"},
}
KIND_ORDER = (FeedbackKind.APPRECIATION, FeedbackKind.COMPLAINT, FeedbackKind.SUGGESTION)


def choice_id(kind: FeedbackKind) -> str:
    """Button id of a kind: `feedback:<kind>|choose` (starts with the intent, so it routes back)."""
    return f"feedback:{kind.value}{CHOOSE_SUFFIX}"


def kind_of_choice(reply_id: str | None) -> FeedbackKind | None:
    """The kind a tapped button chose, or None if the id is not one of our choice buttons."""
    if not reply_id or not reply_id.startswith("feedback:") or not reply_id.endswith(CHOOSE_SUFFIX):
        return None
    value = reply_id[len("feedback:") : -len(CHOOSE_SUFFIX)]
    try:
        return FeedbackKind(value)
    except ValueError:
        return None


def kind_title(kind: FeedbackKind, lang: Lang) -> str:
    """The kind's name as the citizen sees it (button title)."""
    return _KIND_TITLES[kind][lang]


def choice_buttons(office: Office, lang: Lang, *, thanked: bool = False) -> ButtonsContent:
    """The three reply buttons: Apresiasi / Keluhan / Saran. `thanked`: the citizen only
    said thanks, so the answer is "you're welcome" first, and the buttons an offer."""
    if lang == "en":
        body = (
            (
                "You're welcome, glad we could help! 🙏 If you would like to leave "
                f"appreciation, a complaint or a suggestion for {office.short_name} "
                f"({office.service_name}), choose below; for other questions, type *menu*."
            )
            if thanked
            else (
                f"Thank you for wanting to share your feedback with {office.short_name} "
                f"({office.service_name}). What would you like to send?"
            )
        )
        footer = "Your message is recorded with a ticket number."
    else:
        body = (
            (
                "Sama-sama, senang dapat membantu! 🙏 Bila Bapak/Ibu ingin menyampaikan "
                f"apresiasi, keluhan, atau saran untuk {office.short_name} "
                f"({office.service_name}), silakan pilih di bawah; untuk pertanyaan lain, "
                "ketik *menu*."
            )
            if thanked
            else (
                f"Terima kasih telah ingin menyampaikan masukan untuk {office.short_name} "
                f"({office.service_name}). Apa yang ingin Anda sampaikan?"
            )
        )
        footer = "Setiap pesan dicatat dengan nomor tiket."
    buttons = [Button(id=choice_id(kind), title=kind_title(kind, lang)) for kind in KIND_ORDER]
    return ButtonsContent(body=body, footer=footer, buttons=buttons)


def prompt(kind: FeedbackKind, office: Office, lang: Lang) -> TextContent:
    """'Please write your message' for the chosen kind."""
    if lang == "en":
        ask = {
            FeedbackKind.APPRECIATION: (
                f"Please write your appreciation for {office.short_name} in one message. "
                "You may name the service or the officer you want to thank."
            ),
            FeedbackKind.COMPLAINT: (
                "Please write your complaint in one message: what happened, when, and where "
                "(which service or counter). If you would like the office to contact you, "
                'add "please contact me".'
            ),
            FeedbackKind.SUGGESTION: (
                f"Please write your suggestion to improve {office.short_name}'s service in "
                "one message."
            ),
            FeedbackKind.SCAM_REPORT: (
                "Please write in one message the number or account that claimed to be the "
                "immigration office, and what it asked of you."
            ),
        }[kind]
        return TextContent(body=f"{ask}\n\nType *cancel* to stop.")
    ask = {
        FeedbackKind.APPRECIATION: (
            f"Silakan tuliskan apresiasi Anda untuk {office.short_name} dalam satu pesan. "
            "Anda boleh menyebutkan layanan atau petugas yang ingin Anda apresiasi."
        ),
        FeedbackKind.COMPLAINT: (
            "Silakan tuliskan keluhan Anda dalam satu pesan: apa yang terjadi, kapan, dan di "
            "bagian mana (layanan atau loket). Jika Anda ingin dihubungi oleh kantor, "
            'tambahkan "mohon dihubungi".'
        ),
        FeedbackKind.SUGGESTION: (
            f"Silakan tuliskan saran Anda untuk peningkatan layanan {office.short_name} "
            "dalam satu pesan."
        ),
        FeedbackKind.SCAM_REPORT: (
            "Silakan tuliskan dalam satu pesan nomor atau akun yang mengaku kantor imigrasi, "
            "dan apa yang dimintanya dari Anda."
        ),
    }[kind]
    return TextContent(body=f"{ask}\n\nKetik *batal* untuk membatalkan.")


def offer_expectation(
    hint: FeedbackKind | None, ttl_seconds: int = PROMPT_TTL_SECONDS
) -> Expectation:
    """The directive of the kind buttons: a message typed instead of a tap comes back to us
    (recorded as the `hint`ed kind unless its text says otherwise)."""
    return Expectation(
        service=Service.FEEDBACK,
        context={OFFER_KEY: hint.value if hint else ""},
        ttl_seconds=ttl_seconds,
    )


def appended(ticket: str, lang: Lang) -> TextContent:
    """The citizen's detail was added to the ticket just recorded."""
    if lang == "en":
        return TextContent(
            body=f"Thank you, we have added this information to report *{ticket}*. "
            "Type *menu* for other topics."
        )
    return TextContent(
        body=f"Terima kasih, keterangan ini kami tambahkan ke laporan *{ticket}*. "
        "Ketik *menu* untuk topik lain."
    )


def prompt_expectation(kind: FeedbackKind, ttl_seconds: int = PROMPT_TTL_SECONDS) -> Expectation:
    """The directive that brings the citizen's next message back to us, with the chosen kind."""
    return Expectation(
        service=Service.FEEDBACK, context={"kind": kind.value}, ttl_seconds=ttl_seconds
    )


def confirmation(
    *,
    ticket: str,
    kind: FeedbackKind,
    urgent: bool,
    flags: tuple[str, ...] | list[str],
    office: Office,
    national: NationalConfig,
    lang: Lang,
) -> TextContent:
    """The receipt: the ticket and what happens next (and, if urgent, the official channels)."""
    parts = [_thanks(kind, office, lang), _ticket_line(ticket, lang)]
    if kind is FeedbackKind.COMPLAINT:
        parts.append(_complaint_next(office, lang, contact=CONTACT_REQUESTED in flags or urgent))
    if urgent:
        parts.append(_urgent(national, lang))
    return TextContent(body="\n\n".join(parts))


def _thanks(kind: FeedbackKind, office: Office, lang: Lang) -> str:
    if lang == "en":
        return {
            FeedbackKind.APPRECIATION: (
                f"Thank you for your appreciation! We have passed it on to {office.short_name}."
            ),
            FeedbackKind.COMPLAINT: (
                f"Thank you for letting us know. Your complaint has been recorded for "
                f"{office.short_name}."
            ),
            FeedbackKind.SUGGESTION: (
                f"Thank you for your suggestion. It has been recorded for {office.short_name} "
                "to help improve the service."
            ),
            FeedbackKind.SCAM_REPORT: (
                f"Thank you for reporting it. Your scam report has been recorded for "
                f"{office.short_name} and marked for follow-up."
            ),
        }[kind]
    return {
        FeedbackKind.APPRECIATION: (
            f"Terima kasih atas apresiasi Anda! Pesan Anda sudah kami sampaikan kepada "
            f"{office.short_name}."
        ),
        FeedbackKind.COMPLAINT: (
            f"Terima kasih telah menyampaikan keluhan Anda. Keluhan Anda sudah kami catat untuk "
            f"{office.short_name}."
        ),
        FeedbackKind.SUGGESTION: (
            f"Terima kasih atas saran Anda. Saran Anda sudah kami catat untuk {office.short_name} "
            "sebagai bahan peningkatan layanan."
        ),
        FeedbackKind.SCAM_REPORT: (
            f"Terima kasih atas laporan Anda. Laporan penipuan ini sudah kami catat untuk "
            f"{office.short_name} dan ditandai untuk ditindaklanjuti."
        ),
    }[kind]


def _ticket_line(ticket: str, lang: Lang) -> str:
    if lang == "en":
        keep = "Please keep it and mention it if you contact the office."
        return f"Ticket number: *{ticket}*\n{keep}"
    keep = "Mohon simpan nomor ini dan sebutkan bila Anda menghubungi kantor."
    return f"Nomor tiket: *{ticket}*\n{keep}"


def _complaint_next(office: Office, lang: Lang, *, contact: bool) -> str:
    if lang == "en":
        text = f"{office.short_name} will follow up on your complaint."
        if contact:
            text += " An officer may contact you on this WhatsApp number."
        return text
    text = f"{office.short_name} akan menindaklanjuti keluhan Anda."
    if contact:
        text += " Petugas dapat menghubungi Anda melalui nomor WhatsApp ini."
    return text


def _urgent(national: NationalConfig, lang: Lang) -> str:
    channels = national.complaint_channels.get(lang)
    if lang == "en":
        return (
            "Your report is marked *urgent*. You can also report it through the official "
            f"complaint channels: {channels}\n\n"
            f"Remember: passport applications are made only through the {national.official_app} "
            "app, and the only payment is the official fee (PNBP) paid with a billing code. "
            "Do not pay or transfer money to individuals."
        )
    return (
        "Laporan Anda kami tandai *mendesak*. Anda juga dapat melapor melalui kanal pengaduan "
        f"resmi: {channels}\n\n"
        f"Ingat: permohonan paspor hanya melalui aplikasi {national.official_app}, dan pembayaran "
        "hanya biaya resmi (PNBP) dengan kode billing. Jangan membayar atau mentransfer uang "
        "kepada perorangan."
    )


def cancelled(lang: Lang) -> TextContent:
    """The citizen cancelled: nothing was recorded."""
    if lang == "en":
        return TextContent(body="Okay, cancelled. Nothing was sent. Type *menu* to see the menu.")
    return TextContent(
        body="Baik, dibatalkan. Tidak ada pesan yang dikirim. Ketik *menu* untuk melihat menu."
    )


def text_only(kind: FeedbackKind, lang: Lang) -> TextContent:
    """We were waiting for the message but got a photo/voice note without text."""
    title = kind_title(kind, lang).lower()
    if lang == "en":
        return TextContent(
            body=f"Sorry, we can only record a {title} written as text. Please type your message."
        )
    return TextContent(
        body=f"Mohon maaf, {title} hanya dapat kami catat dalam bentuk teks. "
        "Silakan ketik pesan Anda."
    )


def ticket_answer_header(ticket: str) -> str:
    """The first line of an office's answer to a ticket (the citizen knows which one)."""
    return f"*Tanggapan atas tiket {ticket}*"
