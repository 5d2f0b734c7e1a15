"""Feedback classification: a pure function from a citizen's text to kind, urgency and flags.

The router already names an intent (`feedback:appreciation|complaint|suggestion`) from the
shared matcher; this module refines it for the office's inbox:

- **urgent flags** — reports of illegal fees (pungli), extortion (pemerasan), someone posing
  as an officer, or brokers (calo). Any of them makes the feedback a complaint, `urgent=True`,
  because the office must act and the citizen gets the official complaint channels.
  "Bebas pungli", "tanpa calo" (praise) are not reports: a negation just before the phrase
  cancels it.
- **kind** — appreciation, complaint or suggestion from weighted cue phrases (informal
  Indonesian, common typos and English), with "tidak/kurang + praise" counted as a complaint.
- **vague** — "mau kasih masukan", "I want to complain": the citizen announces feedback but
  has not written it yet; the worker then asks for it instead of filing an empty ticket.
- **contact requested** — "tolong hubungi saya", "please call me back": the office must see
  the number in full to call back.

No Kafka, no Redis: `classify("...")` is all there is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gerbang.messages import FeedbackKind
from gerbang.understanding.normalize import normalize
from gerbang.understanding.signals import is_cancel as _shared_cancel

# Flags (stable strings: stored on records and shown to offices).
PUNGLI = "pungli"
EXTORTION = "extortion"
IMPERSONATION = "impersonation"
CALO = "calo"
CONTACT_REQUESTED = "contact_requested"
URGENT_FLAGS = (PUNGLI, EXTORTION, IMPERSONATION, CALO)

# Text is read with the shared normaliser (`gerbang.understanding.normalize`: one slang
# lexicon for every service); the cue phrases below are written against its canonical words
# ("gak" → "tidak", "ngaku" → "mengaku", "duit" → "uang", "makasih" → "terima kasih").


# --- cue phrases ----------------------------------------------------------------------------
# Patterns run on the normalised text, as regexes over whole words ("\b" both sides).

_URGENT_PATTERNS: dict[str, tuple[str, ...]] = {
    PUNGLI: (
        r"pungli",
        r"pungutan liar",
        r"(minta|meminta|mintai|dimintai|diminta|minta minta) "
        r"(\w+ ){0,2}(uang|bayaran|imbalan|tip|komisi|biaya tambahan)",
        r"uang (pelicin|rokok|damai|terima kasih|jasa|tambahan|lebih|kopi)",
        r"biaya (tambahan|lain|ekstra|extra)( \w+){0,3} (di )?luar pnbp",
        r"(bayar|membayar|dibayar)( \w+){0,2} (di )?luar (pnbp|biaya resmi|kode billing)",
        r"biaya (tidak resmi|siluman|liar)",
        r"(di|ter)?suap",
        r"sogok(an)?",
        r"disogok",
        r"menyogok",
        r"(ask|asked|asking|demanded|wanted) (me |us )?(for )?(extra )?"
        r"(money|cash|bribe|payment|tip)",
        r"bribe(s|d|ry)?",
        r"illegal (fee|charge|levy)s?",
        r"extra (fee|charge|payment)s? outside",
        r"under the table",
    ),
    EXTORTION: (
        r"(di|ter)?peras",
        r"pemerasan",
        r"memeras",
        r"diancam( \w+){0,3} (bayar|uang)",
        r"extort(ed|ion|ing)?",
        r"blackmail(ed)?",
    ),
    IMPERSONATION: (
        r"mengaku( \w+){0,3} (petugas|pejabat|imigrasi)",
        r"oknum( \w+){0,2} mengaku",
        r"petugas (gadungan|palsu|abal)",
        r"(imigrasi|whatsapp|nomor|akun|admin) (gadungan|palsu|abal abal|abal)",
        r"(pura pura|berpura pura|menyamar)( \w+){0,2} (petugas|imigrasi|jadi)",
        r"(pretend|pretending|pretended|posing|posed|claim|claimed|claiming) (to be |as )"
        r"(\w+ ){0,3}(officer|official|immigration|staff)",
        r"fake (officer|official|immigration|staff)",
        r"impersonat(e|ed|ing|ion|or)",
    ),
    CALO: (
        r"calo",
        r"jalur (belakang|cepat|khusus|vip|orang dalam)",
        r"(lewat|pakai|melalui|via|punya|kenal) orang dalam",
        r"(broker|fixer|middleman|scalper)s?",
    ),
}

# A negation just before an urgent phrase cancels it: "bebas pungli", "tanpa calo".
# ("no" reads as "nomor" in the shared lexicon, for "no hp": "no bribes" is "nomor bribes".)
_NEGATORS = {"tidak", "tanpa", "bebas", "anti", "bukan", "no", "nomor", "without", "free",
             "never", "not", "zero", "nol", "belum", "jangan"}  # fmt: skip
_KIND_NEGATORS = {"tidak", "kurang", "bukan", "belum", "not", "never", "no", "less"}

_KIND_CUES: dict[FeedbackKind, tuple[tuple[str, float], ...]] = {
    FeedbackKind.APPRECIATION: (
        (r"terima kasih|thanks|thank you", 0.6),
        (r"apresiasi|salut|bangga|mantap|keren|hebat|luar biasa|top|jempol|sukses terus", 1.0),
        (r"(sangat )?(puas|memuaskan|membantu|ramah|sigap|cekatan|profesional|sopan|rapi)", 1.0),
        (
            r"(pelayanan|layanan|petugas)( (sangat|sudah|cukup|begitu|amat|sungguh|jadi|makin|"
            r"semakin|lebih))? (bagus|baik|cepat|oke|ok|mantap|terbaik|bersih|jujur|transparan)",
            1.0,
        ),
        (r"cepat (sekali|banget)|prosesnya cepat|sangat cepat|tidak ribet|gampang", 0.8),
        (r"great|excellent|helpful|friendly|satisfied|impressed|amazing|good job|well done", 1.0),
        (r"love (it|the)|best service|fast service|very fast|smooth", 0.8),
    ),
    FeedbackKind.COMPLAINT: (
        (r"komplain|keluhan|mengeluh|aduan|mengadu|pengaduan|lapor|melaporkan|kritik|protes", 0.9),
        (r"kecewa|mengecewakan|kesal|kesel|marah|parah|payah|buruk|jelek|kacau|amburadul", 1.0),
        (r"lambat|lelet|lemot|lama sekali|lama banget|terlalu lama|menunggu lama|berjam jam", 1.0),
        (r"kasar|jutek|judes|galak|sombong|cuek|membentak|dibentak|tidak sopan|diabaikan", 1.0),
        (
            r"(tidak|kurang|belum) (ramah|sopan|jelas|profesional|cepat|membantu|dilayani|"
            r"direspon|dibalas|diangkat|ditanggapi|tertib|becus)",
            1.2,
        ),
        (r"(tidak|belum) (bisa|jadi|selesai|keluar|ada kabar|ada kejelasan)", 0.6),
        (
            r"ribet|dipersulit|mempersulit|berbelit|telat|terlambat|molor|error|gagal|antri "
            r"(panjang|lama)|antrian (panjang|lama)",
            0.8,
        ),
        (
            r"disappointed|disappointing|slow|rude|terrible|awful|worst|bad service|complain"
            r"(t|ts|ed|ing)?|unhelpful|unprofessional|ignored|waited( \w+){0,2} hours",
            1.0,
        ),
        (r"(not|never) (helpful|friendly|answered|responded|replied|clear)", 1.2),
    ),
    FeedbackKind.SUGGESTION: (
        (r"saran|usul|usulan|masukan|menyarankan|rekomendasi|ide", 0.9),
        (
            r"sebaiknya|seharusnya|harusnya|semestinya|alangkah baiknya|lebih baik (jika|kalau|"
            r"kalo|bila)|akan lebih baik|kalau bisa|kalo bisa|bila perlu",
            1.0,
        ),
        (
            r"(mohon|tolong|harap|semoga|sebaiknya)( \w+){0,2} (ditambah|ditambahkan|diperbaiki|"
            r"ditingkatkan|disediakan|dibuat|diperbanyak|dipertahankan|diadakan|dibuka)",
            1.2,
        ),
        (r"ditambah|ditambahkan|ditingkatkan|diperbanyak|diperluas|disediakan|ditambahin", 0.6),
        (
            r"suggest(ion|ions|ed)?|should|could you|would be (better|nice|great)|please add|"
            r"recommend|improve|it would help|idea",
            1.0,
        ),
    ),
}

# Words that announce feedback without saying it ("mau kasih masukan", "I want to complain").
_ANNOUNCE = set(
    "mau ingin pengen pingin ingin hendak kasih beri memberi memberikan sampaikan menyampaikan "
    "kirim mengirim ajukan mengajukan masukan saran kritik komplain keluhan aduan lapor "
    "melapor pengaduan apresiasi feedback testimoni usul usulan mengeluh sedikit tentang "
    "mengenai soal untuk buat ke kepada ini itu nih dong ya yah sih kak min admin mimin pak "
    "bu bapak ibu mas mbak saya aku kami kita boleh bisa gimana bagaimana caranya cara ada "
    "punya halo hai hallo permisi selamat pagi siang sore malam assalamualaikum tolong mohon "
    "i we want would like to give leave send make submit a an some have can how do my please "
    "complaint complain suggestion suggest appreciation compliment hello hi about the for "
    "terima kasih thanks thank you sebelumnya".split()
)

_CONTACT = (
    r"(tolong|mohon|harap|minta|bisa|agar|supaya)( \w+){0,2} (hubungi|dihubungi|telepon|"
    r"ditelepon|telpon|ditelpon|kontak|dikontak|call)( \w+){0,2}",
    r"hubungi (saya|aku|kami|nomor ini)",
    r"(call|contact|ring) me",
    r"call( me)? back",
    r"get back to me",
    r"reach me",
)


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b")


_URGENT_RE = {flag: _compile(patterns) for flag, patterns in _URGENT_PATTERNS.items()}
_KIND_RE = {
    kind: tuple((_compile((pattern,)), weight) for pattern, weight in cues)
    for kind, cues in _KIND_CUES.items()
}
_CONTACT_RE = _compile(_CONTACT)


@dataclass(frozen=True, slots=True)
class Classification:
    """What a piece of feedback is, as the office's inbox needs it."""

    kind: FeedbackKind
    urgent: bool
    flags: tuple[str, ...]
    confident: bool
    """True when the text itself clearly says which kind it is (a cue or an urgent flag)."""
    vague: bool
    """True when the text only announces feedback ("mau kasih masukan") without content."""
    normalized: str


def _negated(normalized: str, start: int, negators: set[str], *, window: int) -> bool:
    before = normalized[:start].split()[-window:]
    return any(word in negators for word in before)


def urgent_flags(normalized: str) -> tuple[str, ...]:
    """Urgent flags found in normalised text (pungli, extortion, impersonation, calo)."""
    found = []
    for flag, pattern in _URGENT_RE.items():
        matches = pattern.finditer(normalized)
        if any(not _negated(normalized, m.start(), _NEGATORS, window=2) for m in matches):
            found.append(flag)
    return tuple(found)


def kind_scores(normalized: str) -> dict[FeedbackKind, float]:
    """How strongly the text reads as each kind (sum of the weights of the cues it contains)."""
    scores = dict.fromkeys(FeedbackKind, 0.0)
    for kind, cues in _KIND_RE.items():
        for pattern, weight in cues:
            for match in pattern.finditer(normalized):
                # "tidak ramah", "kurang cepat", "not helpful": the cue means its opposite;
                # the complaint cues that spell the negation out count instead.
                if not _negated(normalized, match.start(), _KIND_NEGATORS, window=1):
                    scores[kind] += weight
    return scores


# Tie-break: an office would rather read a complaint twice than miss one.
_PRECEDENCE = (FeedbackKind.COMPLAINT, FeedbackKind.SUGGESTION, FeedbackKind.APPRECIATION)


def is_vague(normalized: str) -> bool:
    """True if every word only announces feedback (nothing the office could act on)."""
    content = [word for word in normalized.split() if word not in _ANNOUNCE]
    return len(content) < 2


def is_cancel(text: str) -> bool:
    """True if the citizen cancels ("batal", "gak jadi", "cancel"): the shared reading."""
    return _shared_cancel(normalize(text))


def classify(
    text: str, *, chosen: FeedbackKind | None = None, hint: FeedbackKind | None = None
) -> Classification:
    """Kind, urgency and flags of a citizen's feedback text.

    `chosen` is the kind the citizen picked with a button: it wins over the text. `hint` is
    the router's intent: it decides only when the text itself is not clear. An urgent flag
    always makes a complaint, whatever was chosen.
    """
    normalized = normalize(text)
    flags = list(urgent_flags(normalized))
    if _CONTACT_RE.search(normalized):
        flags.append(CONTACT_REQUESTED)
    urgent = any(flag in URGENT_FLAGS for flag in flags)
    scores = kind_scores(normalized)
    best = max(_PRECEDENCE, key=lambda kind: scores[kind])  # max keeps the first of equals
    confident = urgent or scores[best] >= 0.9
    if urgent:
        kind = FeedbackKind.COMPLAINT
    elif chosen is not None:
        kind = chosen
    elif scores[best] >= 0.9 or (hint is None and scores[best] > 0):
        kind = best
    else:
        # Nothing in the text says which kind: the router's reading, else a plea to be
        # called back is most likely a problem, else it is an aspiration (suggestion).
        fallback = FeedbackKind.COMPLAINT if CONTACT_REQUESTED in flags else FeedbackKind.SUGGESTION
        kind = hint or fallback
    return Classification(
        kind=kind,
        urgent=urgent,
        flags=tuple(flags),
        confident=confident,
        vague=not urgent and is_vague(normalized),
        normalized=normalized,
    )
