"""The intent matcher: what a citizen's message asks for, as a pure function.

`IntentMatcher` is built once (from paraphrases, an office's FAQ examples and the offices'
names) and then answers `understand(text)` in tens of microseconds. A decision is made in
this order, the first that applies wins:

1. an interactive reply (`reply_id` of a menu row) → that row's intent, confidence 1.0;
2. a bare menu number ("3") → that row;
3. nothing but a greeting or a request for the menu ("halo", "P", "kak mau tanya") → MENU;
4. otherwise every intent is scored from concept keywords (weighted, with bigrams such as
   "berapa lama" and negations such as "tidak ramah"), the similarity to the paraphrases
   (TF-IDF cosine over stems, best paraphrase per intent), and structural cues: a phone
   number (→ "is this number official?"), an application-number-looking token (→ status),
   scam wording (→ official channels when the message asks whether something is legit).
   The best score becomes a confidence in [0, 1]; below `threshold` the answer is FALLBACK.

Scam signals, the subtopic, other offices named and phone numbers are reported whatever the
intent, so the FAQ can add a warning to any answer.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from gerbang.messages import MENU_ROWS, Intent
from gerbang.phone import normalize_msisdn
from gerbang.understanding import Understanding
from gerbang.understanding.normalize import Analysis, analyze, clean
from gerbang.understanding.paraphrases import PARAPHRASES

if TYPE_CHECKING:
    from gerbang.offices import Lang, OfficeRegistry

# --- concept keywords ----------------------------------------------------------------------
# Keys are canonical tokens, stems, or "a b" bigrams of stems; a message's features are the
# union of the three, so a key matches whichever form it is written in. Weights: 3 = the word
# alone names the topic, 1 = a hint. Negative weights undo a misleading unigram in context.


def _weights(spec: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in spec.split(","):
        item = item.strip()
        if item:
            key, _, weight = item.rpartition(":")
            out[key.strip()] = float(weight)
    return out


KEYWORDS: dict[Intent, dict[str, float]] = {
    Intent.FAQ_REQUIREMENTS: _weights(
        """syarat:3, dokumen:2.5, document:2.5, berkas:2.5, requirement:3, require:2,
        bawa:1.2, bring:1.5, perlu:0.8, need:0.8, ktp:1.2, kk:1.2, kartu keluarga:1.5,
        akta:1.5, lahir:0.6, birth:1, certificate:1.2, ijazah:1.5, nikah:0.8, surat:0.5,
        lengkap:1, apa saja:0.8, fotokopi:1.5, copy:0.8, asli:0.4, bikin:0.4, new:0.4,
        renew:1, renewal:1, perpanjang:1.2, panjang:0.6, anak:0.8, bayi:0.8, balita:0.8,
        child:0.8, kid:0.8, minor:1, umrah:1.5, haji:1.5, hajj:1.5, kerja:0.8, tki:1.5,
        pmi:1.5, tkw:1.5, work:0.6, beda:0.8, berbeda:0.8, mismatch:1.5, meterai:1.5,
        materai:1.5, pernyataan:1.2, siap:0.6, prepare:1, expired:0.6, habis:0.4,
        paspor lama:0.8, ganti:0.4, old:0.5"""
    ),
    Intent.FAQ_FEES: _weights(
        """biaya:3, harga:3, tarif:3, berapa:1.2, how much:3, cost:3, fee:3, price:3,
        mahal:2.5, murah:2, expensive:2.5, cheap:2, rp:1.5, ribu:1, juta:1, duit:1.5,
        uang:0.8, pnbp:2, percepatan:1.5, express:1.2, bayar berapa:1.5, berapa bayar:1.5,
        total:1, charge:2, ongkos:2.5, berapa lama:-1.2, berapa hari:-1.2, how long:-1.5"""
    ),
    Intent.FAQ_PAYMENT: _weights(
        """bayar:2.2, pay:2.2, payment:2.5, billing:3, kode bayar:2, transfer:1.5, atm:2,
        banking:2, bank:1.5, bni:1.5, bri:1.5, mandiri:1.5, bca:1.5, bsi:1.5, indomaret:2.5,
        alfamart:2.5, tokopedia:2, bukalapak:2, ovo:1.5, gopay:1.5, shopee:1, pos:0.6,
        simponi:2.5, mpn:2.5, bpn:1.5, bukti:0.8, lunas:2, kadaluarsa:1.2, expired:0.6,
        batas waktu:1.2, deadline:1.5, struk:1.5, virtual:1, qris:2, cara bayar:1.5,
        tagihan:2, method:1"""
    ),
    Intent.FAQ_PICKUP: _weights(
        """ambil:3, pickup:3, pick:2, collect:3, berapa lama:3, berapa hari:2.5,
        how long:3, lama:0.6, kapan jadi:2, wakil:2.5, kuasa:1.5, kirim:1.8, deliver:2.5,
        delivery:2.5, pos:1.2, antar:1.5, selesai:0.8, hari kerja:1.5, proses:1.2,
        process:1.2, ready:0.6, jadi:0.5, take:0.5, lupa ambil:1.5, sehari:2, same day:2,
        percepatan:0.8, send:1, jadi paspor:0.8, one day:2, satu hari:1.5, kilat:1.2,
        expedite:1.5, expedited:1.5, belum ambil:2.5, telat ambil:2.5, terlambat ambil:2.5,
        30 hari:1.5, sebulan:1"""
    ),
    Intent.FAQ_REGISTRATION: _weights(
        """daftar:3, register:3, registration:3, antri:1.5, antrian:1.5, mpaspor:2.5,
        aplikasi:2, app:2, online:1.5, kuota:2.5, quota:2.5, slot:2.5, jadwal:1.5,
        schedule:1.5, appointment:3, book:2, booking:2.5, datang langsung:2.5, walk:2,
        cara:0.8, prosedur:1.5, alur:1.5, langkah:1, procedure:1.5, apply:2, reschedule:2.5,
        ubah jadwal:1, kuota buka:1.5, ganti jadwal:1.5, datang:1, penuh:1.5, akun:1.5,
        account:0.8, otp:1.5, email:1, verifikasi:0.8, upload:1.5, login:1.5, ajukan:1.5,
        aju:1.2, ulang:0.4"""
    ),
    Intent.FAQ_HOURS_LOCATION: _weights(
        """jam:1.5, buka:2.5, tutup:2, open:2.5, close:1.5, closed:2, hours:3,
        operasional:3, jam kerja:1, jam layan:1.5, jam berapa:0.8, sabtu:2, minggu:0.8,
        saturday:2.5, sunday:2.5, weekend:2.5, libur:2.5, istirahat:2, alamat:3,
        address:3, lokasi:3, location:3, located:3, letak:2.5, dimana:2.5, where:2,
        maps:2.5, peta:1.5, kantor:1, office:1, jalan:0.6, arah:1, parkir:1.5,
        naik apa:1, cabang:1, mpp:1.5, jauh:1, far:1, share lokasi:2, senin:1, jumat:1.2"""
    ),
    Intent.FAQ_LOST_DAMAGED: _weights(
        """hilang:3.5, lost:3.5, curi:3, stolen:3, copet:3, rampok:2.5, rusak:3.5,
        damaged:3.5, damage:3, sobek:3.5, robek:3.5, torn:3, basah:2.5, wet:2.5,
        banjir:2, cuci:2, coret:2.5, lecek:2, lipat:1.5, bakar:2, burn:1.5, kena air:2.5,
        polisi:1.5, police:1.5, bap:1.5, denda:1.2, kelupas:2, lepas:1.5, hancur:2,
        gigit:1.5, ketinggalan:1.5, tinggal:0.8, jatuh:1, rusak paspor:0.5, tumpah:2.5,
        ketumpahan:2.5, luntur:2, pudar:1.5, tinta:1, spilled:2.5, faded:2"""
    ),
    Intent.FAQ_OFFICIAL_CHANNELS: _weights(
        """resmi:2.5, official:2.5, asli:1.5, palsu:2.5, fake:2.5, tipu:3, scam:3,
        legit:2.5, hoax:2, nomor:1, number:1, benar:0.6, real:1, calo:1.5, website:1.5,
        situs:1.5, instagram:1.5, facebook:1.5, fb:1.5, kontak:1.5, contact:1.5,
        call center:2, hotline:2.5, telepon:1.5, telpon:1.5, phone:1, whatsapp:1,
        percaya:1.5, trust:1.5, aman:1, safe:1, tawar:1.5, aku:1, ngaku:2, hubung:1.2,
        sms:1, link:1.5, nomor ini:1.5, akun:0.5, penipu:3, broker:2, agen:1.5"""
    ),
    Intent.STATUS: _weights(
        """status:3, progres:3, progress:3, track:3, tracking:3, lacak:3, sampai mana:3,
        sampai tahap:3, tahap:1.5, sudah jadi:2.5, jadi belum:2.5, belum jadi:1.5,
        sudah selesai:2, selesai belum:2.5, cek:1.2, check:1.2, permohonan:1.5,
        application:1.5, nomor permohonan:2, ready:1, print:1.5, printed:1.5, cetak:2,
        proses:0.8, setuju:1.5, approved:1.5, tolak:1, kapan:0.5, sudah sampai:1.5,
        dimana paspor:1, where my:1.5, kabar:2"""
    ),
    Intent.FEEDBACK_APPRECIATION: _weights(
        """terima kasih:2.5, thanks:2.5, thank:2.5, mantap:2.5, keren:2, bagus:2,
        puas:2.5, ramah:2.5, cepat:0.8, sangat bantu:2, bantu:0.5, helpful:2.5,
        excellent:2.5, great:1.5, good:1, good job:2, salut:2.5, apresiasi:3,
        appreciate:3, sukses:1.5, top:1.5, recommended:2, profesional:1.5, luar biasa:2,
        best:2, hebat:2, semangat:1, lancar:1.5, mudah:0.8, nyaman:1.5, bersih:1, love:1.5,
        alhamdulillah:1.5, amazing:2.5, satisfied:2.5, friendly:2.5, fast:1"""
    ),
    Intent.FEEDBACK_COMPLAINT: _weights(
        """kecewa:3.5, disappointed:3.5, komplain:3, complain:3, complaint:3, keluh:3,
        lapor:1.2, pungli:3.5, minta uang:3, minta duit:3, uang rokok:3, pelicin:3, suap:3,
        bribe:3, kasar:3, rude:3, jutek:3, judes:3, sinis:2, lambat:2.5, lelet:3, slow:2.5,
        lama banget:3, lama sekali:2.5, lama sangat:2.5, kelamaan:2.5, parah:2.5,
        buruk:2.5, jelek:2.5, bad:2, terrible:3, worst:3, awful:3, horrible:3, ribet:2,
        sulit:1.2, marah:1.5, kesal:2.5, kesel:2.5, capek:1.5, jam jam:1.5, dari pagi:1.5,
        abai:2, oknum:2, nyebelin:2.5, ngaret:2, kotor:1.5, panas:0.8, dipersulit:2,
        lama tunggu:1.5, tunggu lama:1.5, antri lama:2, tidak becus:3, mengecewakan:3,
        minta:0.4, uang:0.4, money:1.2, for money:1.5, uang tambahan:2.5, ignored:2,
        waited:1.5, unprofessional:3,
        tidak balas:3, tidak respon:2.5, tidak jawab:2, tidak angkat:2, tindak:2.5,
        banyak calo:2, protes:3, protest:3, keberatan:2"""
    ),
    Intent.FEEDBACK_SUGGESTION: _weights(
        """saran:3.5, usul:3, usulan:3, masukan:3, suggest:3, suggestion:3.5,
        sebaiknya:3, seharusnya:2.5, harusnya:2.5, should:1.5, lebih baik:2,
        kalau bisa:1.5, tambah:1.5, ditambah:2, perbanyak:2.5, diperbanyak:2.5,
        tingkat:1.5, ditingkatkan:2, improve:2.5, perbaiki:2, diperbaiki:2, semoga:1.5,
        depan:1, aspirasi:3, sedia:1, fasilitas:1, would be:1.5, add:1.5, better:1.5,
        ide:2, idea:2, recommend:1.5, mohon ditambah:1, tolong ditambah:1, should i:-1.5,
        what should:-1.5"""
    ),
}

_KEYWORD_INDEX: dict[str, tuple[tuple[Intent, float], ...]] = {}
for _intent, _weights_of_intent in KEYWORDS.items():
    for _key, _weight in _weights_of_intent.items():
        _KEYWORD_INDEX[_key] = (*_KEYWORD_INDEX.get(_key, ()), (_intent, _weight))

_PASSPORT_WORDS = frozenset({"paspor", "epaspor", "passport"})
# Words that carry a topic by themselves (any keyword or anchor): one of them shared with a
# paraphrase is evidence, a single everyday word is not.
_TOPICAL_TERMS = frozenset(key for key in _KEYWORD_INDEX if " " not in key) | frozenset(
    {"paspor", "epaspor", "mpaspor", "imigrasi", "kanim", "passport"}
)
_LOSS_WORDS = frozenset(
    """hilang lost curi stolen copet rusak damaged sobek robek torn basah wet""".split()
)

# Words that make a following positive word a complaint ("tidak ramah", "not helpful").
_NEGATIONS = frozenset({"tidak", "kurang", "not", "never", "bukan", "belum"})
_POSITIVE = frozenset(
    """ramah sopan jelas profesional bantu membantu puas bagus layan dilayani responsif
    respon becus helpful friendly professional good satisfied jelas tanggap sigap""".split()
)

_SPEECH_ACTS: dict[Intent, frozenset[str]] = {
    Intent.FEEDBACK_SUGGESTION: frozenset(
        """saran usul usulan masukan sebaiknya seharusnya harusnya suggest suggestion
        aspirasi ditambah ditambahkan diperbanyak perbanyak ditingkatkan diperbaiki""".split()
    ),
    Intent.FEEDBACK_COMPLAINT: frozenset(
        """kecewa komplain complain complaint keluh pungli disappointed mengecewakan
        tindak protes protest""".split()
    ),
    Intent.FEEDBACK_APPRECIATION: frozenset("""apresiasi appreciate salut puas""".split()),
}

# Outside the service: each of these lowers the confidence (a price of a plane ticket is not
# a passport fee). "paspor"/"imigrasi" in the same message halves the penalty.
_OUT_OF_DOMAIN = _weights(
    """visa:1.2, kitas:2, kitap:2, tiket:2, pesawat:1.5, hotel:2, pulsa:2.5, jual:1.5,
    beli:1, promo:2, pinjam:2, kredit:1.5, pinjol:3, loker:2, lowongan:2, ticket:2,
    flight:1.5, wkwk:2, wkwkwk:2, haha:1.5, hehe:1, sim:1.5, stnk:2, bpjs:1.5, cinta:2,
    game:2, slot gacor:3, judi:3, togel:3"""
)
_DOMAIN_ANCHORS = frozenset({"paspor", "epaspor", "mpaspor", "imigrasi", "kanim"})

# What a message made only of these words wants: the menu ("kak mau tanya", "info dong").
_MENU_WORDS = frozenset(
    """menu p ping tes test mulai start help bantuan tolong info informasi tanya bertanya
    nanya mau ingin boleh numpang saya ya iya dong sih nih ok oke okay halo hai selamat
    layanan pilihan opsi kembali back home balik apa question ask please pls can i a have
    some want to sigap admin cs kakak sama ini itu lagi siap sip baik noted
    okey""".split()
)

# Words that ask for the menu whatever else the message says, if nothing else was understood.
_MENU_REQUEST = frozenset({"menu", "pilihan", "opsi", "options"})
# Asking for a person (temporary keyword rule until the classifier learns `handoff`).
_HANDOFF_REQUEST = re.compile(
    r"\b(?:bicara|berbicara|ngobrol|ngomong|chat|chatting|hubungi|menghubungi|sambungkan|"
    r"disambungkan|terhubung|tersambung|kontak)\s+(?:langsung\s+)?(?:dengan|dgn|sama|sm|ama|ke|"
    r"kepada)?\s*(?:seorang\s+|salah\s+satu\s+)?(?:petugas|admin|operator|orang|manusia|cs|"
    r"staf|staff|pegawai|agen)\b"
    r"|^\s*(?:cs|admin|petugas|operator)\s*(?:dong|donk|aja|please|pls|kak|min|ya)?\s*[.!?]*\s*$"
    r"|\bcustomer\s+service\b|\blive\s+agent\b|\b(?:real|human)\s+(?:person|agent)\b"
    r"|\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:an?\s+|the\s+|some\s*)?"
    r"(?:officer|human|person|agent|staff|one|operator)\b"
)

# The service's subject itself: "mau tanya tentang e-paspor" still needs the menu.
_TOPIC_FREE = frozenset(
    """paspor epaspor passport imigrasi kanim tentang mengenai soal about perihal
    terkait""".split()
)

# Words that say the message asks whether something is genuine, not how to do it.
_LEGIT_WORDS = frozenset(
    """resmi asli benar aman tipu penipu penipuan scam legit official real fake palsu
    percaya trust hoax safe""".split()
)

# --- scam signals (on canonical text) ------------------------------------------------------

SCAM_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("calo", re.compile(r"\b(calo|percaloan|biro jasa|joki paspor|broker|agen paspor)\b")),
    (
        "jalur_cepat",
        re.compile(
            r"\bjalur (cepat|belakang|khusus|vip|pintas|dalam)\b|\blewat belakang\b"
            r"|\btanpa (antri|antrian|daftar|wawancara)\b"
            r"|\btidak (perlu|usah) (antri|antrian|datang|wawancara)\b"
            r"|\b(skip|tembak|potong) (antri|antrian|queue)\b|\bfast track\b|\bback door\b"
            r"|\bwithout (queue|queuing|an appointment|interview)\b|\bno queue\b"
            r"|\bpaspor tembak\b|\bsehari jadi tanpa\b"
        ),
    ),
    (
        "orang_dalam",
        re.compile(
            r"\borang dalam\b|\bordal\b|\bkenalan (orang |petugas |di )?imigrasi\b"
            r"|\bpunya kenalan\b|\binsider\b|\bsomeone inside\b|\bpetugas dalam\b"
        ),
    ),
    (
        "personal_account",
        re.compile(
            r"\brekening (pribadi|atas nama|perorangan|bapak|ibu|petugas|orang|dia)\b"
            r"|\btransfer(?: \w+){0,3} ke (rekening|nomor rekening|bapak|ibu|petugas|dana|ovo"
            r"|gopay|dia)\b"
            r"|\bpersonal (account|bank)\b|\batas nama (pribadi|orang|petugas|bapak|ibu)\b"
            r"|\b(bank|rekening) account of\b|\btransfer to (his|her|a personal|their)\b"
        ),
    ),
    (
        "whatsapp_registration",
        re.compile(
            r"\b(daftar|pendaftaran|booking|book|antrian|antri|register|registration|apply"
            r"|urus|bikin|pesan)\b(?: \w+){0,4} (lewat|via|melalui|pakai|di|through|on|by"
            r"|dari) (whatsapp|chat whatsapp|nomor whatsapp)\b"
            r"|\bwhatsapp (untuk )?(daftar|pendaftaran|booking)\b"
        ),
    ),
)

# --- numbers -------------------------------------------------------------------------------

# A run of digits with optional single separators (space, dot, dash, brackets), optionally
# starting with + : how people type phone numbers.
_NUMBER_RUN = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s.\-()]{0,2}\d){6,17}(?!\w)")
_OWN_NUMBER = re.compile(
    r"\b(nomor|nomor hp|hp|whatsapp|telepon|kontak) (saya|aku|ku)\b|\bhubungi saya\b"
    r"|\bmy (number|phone|whatsapp)\b|\bcontact me\b"
)
_APPLICATION_NO = re.compile(r"(?<![\w])(?=[A-Za-z0-9\-/]*\d)[A-Za-z0-9][A-Za-z0-9\-/]{7,29}(?!\w)")


def _phone_from_run(run: str) -> str | None:
    digits = re.sub(r"\D", "", run)
    stripped = run.lstrip("(")
    international = stripped.startswith(("+", "00"))
    if not (
        international
        or digits.startswith(("0", "62"))
        or (digits.startswith("8") and 9 <= len(digits) <= 12)
    ):
        return None
    number = normalize_msisdn(digits if not international else stripped)
    if number is None or not 10 <= len(number) <= 15:
        return None
    if number.startswith("62") and not 10 <= len(number) <= 14:
        return None
    return number


def extract_phone_numbers(text: str) -> tuple[tuple[str, ...], str]:
    """Phone numbers in free text (any format: +62, 62, 08, 8…, spaces, dashes, dots),
    normalised with `normalize_msisdn`; and the text with them removed.

    A run that is not a phone number as a whole (e.g. "2024 0812 3003 0440") is retried from
    each of its space-separated parts, so a year before a number does not hide it.
    """
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    for match in _NUMBER_RUN.finditer(text):
        run = match.group(0)
        starts = [0] + [i + 1 for i, char in enumerate(run) if char == " "]
        for start in starts:
            number = _phone_from_run(run[start:].strip())
            if number is not None:
                if number not in found:
                    found.append(number)
                spans.append((match.start() + start, match.end()))
                break
    if not spans:
        return (), text
    pieces, cursor = [], 0
    for begin, end in spans:
        pieces.append(text[cursor:begin])
        cursor = end
    pieces.append(text[cursor:])
    return tuple(found), " ".join(pieces)


def looks_like_application_no(text: str) -> bool:
    """An application-number-looking token: 8–30 letters/digits with ≥ 5 digits and a letter
    (e.g. "2J0JP1234567"), or a 9–20 digit number that is not a phone number."""
    for match in _APPLICATION_NO.finditer(text):
        token = match.group(0)
        digits = sum(char.isdigit() for char in token)
        letters = sum(char.isalpha() for char in token)
        if letters and digits >= 5:
            return True
        if not letters and 9 <= digits <= 20 and _phone_from_run(token) is None:
            return True
    return False


# --- offices named in the text -------------------------------------------------------------

_OFFICE_WORDS = frozenset(
    """kanim kantor imigrasi kanwil kantor imigrasi immigration office kim ulp""".split()
)
_GENERIC_NAME_WORDS = frozenset(
    """kantor imigrasi kelas i ii iii non tpi khusus kanim kanwil a b c""".split()
)


@dataclass(frozen=True, slots=True)
class _OfficeName:
    code: str
    places: tuple[tuple[str, ...], ...]
    """Place names of the office as token sequences ("jakarta pusat", "jakpus")."""
    phrases: tuple[tuple[str, ...], ...]
    """Whole names that identify it alone ("kanim jakarta pusat", "sigap")."""


def _office_name(code: str, names: Iterable[str]) -> _OfficeName:
    places: set[tuple[str, ...]] = set()
    phrases: set[tuple[str, ...]] = set()
    for name in names:
        tokens = tuple(clean(name))
        if not tokens:
            continue
        place = tuple(token for token in tokens if token not in _GENERIC_NAME_WORDS)
        if place and len(place) < len(tokens):
            places.add(place)
            phrases.add(tokens)
        elif place and len(tokens) >= 2:
            phrases.add(tokens)  # a multi-word brand, e.g. "sapa bogor"
    if code not in _GENERIC_NAME_WORDS and code.isalpha():
        places.add((code,))
    return _OfficeName(code, tuple(sorted(places)), tuple(sorted(phrases)))


def _contains(tokens: Sequence[str], phrase: Sequence[str], start: int = 0) -> int:
    """Index of `phrase` in `tokens` from `start`, or -1."""
    size = len(phrase)
    for index in range(start, len(tokens) - size + 1):
        if tuple(tokens[index : index + size]) == tuple(phrase):
            return index
    return -1


# --- the matcher ---------------------------------------------------------------------------

_TOPIC_INTENTS: dict[str, tuple[Intent, str | None]] = {
    "requirements": (Intent.FAQ_REQUIREMENTS, None),
    "requirements.minor": (Intent.FAQ_REQUIREMENTS, "minor"),
    "requirements.renewal": (Intent.FAQ_REQUIREMENTS, "renewal"),
    "requirements.work_abroad": (Intent.FAQ_REQUIREMENTS, "work_abroad"),
    "requirements.umrah": (Intent.FAQ_REQUIREMENTS, "umrah"),
    "requirements.name_mismatch": (Intent.FAQ_REQUIREMENTS, "name_mismatch"),
    "fees": (Intent.FAQ_FEES, None),
    "payment": (Intent.FAQ_PAYMENT, None),
    "pickup": (Intent.FAQ_PICKUP, None),
    "registration": (Intent.FAQ_REGISTRATION, None),
    "hours_location": (Intent.FAQ_HOURS_LOCATION, None),
    "lost": (Intent.FAQ_LOST_DAMAGED, "lost"),
    "damaged": (Intent.FAQ_LOST_DAMAGED, "damaged"),
    "lost_damaged": (Intent.FAQ_LOST_DAMAGED, None),
    "official_channels": (Intent.FAQ_OFFICIAL_CHANNELS, None),
}
"""FAQ answer topics (keys in the offices' FAQ files) and the intent/subtopic they answer."""

_SUBTOPICS: dict[Intent, tuple[tuple[str, frozenset[str]], ...]] = {
    Intent.FAQ_REQUIREMENTS: (
        (
            "name_mismatch",
            frozenset(
                {
                    "mismatch",
                    "nama beda",
                    "nama berbeda",
                    "beda nama",
                    "nama salah",
                    "salah nama",
                    "ganti nama",
                    "nama tidak",
                    "different name",
                    "name different",
                    "name change",
                }
            ),
        ),
        (
            "minor",
            frozenset(
                {
                    "anak",
                    "bayi",
                    "balita",
                    "child",
                    "children",
                    "kid",
                    "minor",
                    "baby",
                    "bawah umur",
                    "belum ktp",
                    "belum punya",
                    "son",
                    "daughter",
                    "newborn",
                }
            ),
        ),
        (
            "work_abroad",
            frozenset(
                {
                    "kerja",
                    "tki",
                    "tkw",
                    "pmi",
                    "work",
                    "worker",
                    "migrant",
                    "pekerja",
                    "magang",
                    "bp2mi",
                    "job",
                }
            ),
        ),
        ("umrah", frozenset({"umrah", "haji", "hajj", "umroh", "ibadah"})),
        (
            "renewal",
            frozenset(
                {
                    "perpanjang",
                    "panjang",
                    "renew",
                    "renewal",
                    "ganti",
                    "expired",
                    "kadaluarsa",
                    "habis",
                    "mati",
                    "paspor lama",
                    "old",
                    "berlaku",
                    "replace",
                    "extend",
                }
            ),
        ),
    ),
    Intent.FAQ_LOST_DAMAGED: (
        (
            "lost",
            frozenset(
                {
                    "hilang",
                    "lost",
                    "curi",
                    "stolen",
                    "copet",
                    "rampok",
                    "ketinggalan",
                    "missing",
                    "lose",
                }
            ),
        ),
        (
            "damaged",
            frozenset(
                {
                    "rusak",
                    "damaged",
                    "damage",
                    "sobek",
                    "robek",
                    "torn",
                    "basah",
                    "wet",
                    "banjir",
                    "cuci",
                    "coret",
                    "lecek",
                    "tumpah",
                    "ketumpahan",
                    "luntur",
                    "pudar",
                    "spilled",
                    "faded",
                    "bakar",
                    "kena air",
                    "kelupas",
                    "lepas",
                    "hancur",
                    "gigit",
                    "lipat",
                }
            ),
        ),
    ),
}

_STOP_FOR_SIMILARITY = frozenset(
    """yang di ke dan ini itu ya saya untuk dengan ada apa tidak sudah a an the is are i my
    to of for do can it and or be""".split()
)

_MENU_ROW_BY_ID: dict[str, Intent] = dict(MENU_ROWS)
_BARE_CHOICE = re.compile(
    r"^\s*(?:(?:pilih|menu|nomor|no|opsi|option)\.?\s*)?(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE
)

SIMILARITY_WEIGHT = 3.0
# A paraphrase lends its subtopic only when it is this close (keywords decide otherwise).
_SUBTOPIC_SIMILARITY = 0.6
DEFAULT_THRESHOLD = 0.35


def _features(analysis: Analysis) -> set[str]:
    stems = analysis.stems
    tokens = analysis.tokens
    features = set(tokens) | set(stems)
    features.update(f"{a} {b}" for a, b in pairwise(stems))
    features.update(f"{a} {b}" for a, b in pairwise(tokens))
    return features


@dataclass(frozen=True, slots=True)
class _Paraphrase:
    intent: Intent
    subtopic: str | None
    vector: dict[str, float]


_LANGUAGE_NAMES: dict[str, Lang] = {
    "english": "en", "inggris": "en", "eng": "en", "en": "en",
    "indonesia": "id", "indonesian": "id", "indo": "id",
}  # fmt: skip
_LANGUAGE_FILLER = frozenset(
    "in please pls plz dong aja saja ya pakai pake pakailah gunakan use language speak can "
    "you could i want mau ganti switch to ke reply balas jawab with bisa do me the answer "
    "only just min kak bahasa".split()
)


def language_request(raw_tokens: tuple[str, ...]) -> Lang | None:
    """The language a short message asks for ("english please", "can you speak english",
    "bahasa indonesia aja"), or None when the message is about something else."""
    if not raw_tokens or len(raw_tokens) > 6:
        return None
    named = {_LANGUAGE_NAMES[t] for t in raw_tokens if t in _LANGUAGE_NAMES}
    if len(named) != 1:
        return None
    if not all(t in _LANGUAGE_NAMES or t in _LANGUAGE_FILLER for t in raw_tokens):
        return None
    return next(iter(named))


class IntentMatcher:
    """Understands citizens' messages for one office (or for any, without `offices`).

    Build it once and reuse it: construction indexes the paraphrases; `understand` is pure
    and thread-safe.
    """

    def __init__(
        self,
        paraphrases: Mapping[Intent, Sequence[str]] | None = None,
        *,
        examples: Mapping[str, Sequence[str]] | None = None,
        offices: Mapping[str, Sequence[str]] | None = None,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        """`paraphrases`: per intent (default: the built-in `PARAPHRASES`); a line may end in
        "| subtopic". `examples`: extra ways to ask, per FAQ topic key ("fees",
        "requirements.minor", "lost", …). `offices`: office code → its names (official name,
        short name, service name) to recognise "kanim bogor". Below `threshold` → FALLBACK.
        """
        self.threshold = threshold
        documents: list[tuple[Intent, str | None, str]] = []
        for intent, lines in (paraphrases if paraphrases is not None else PARAPHRASES).items():
            for line in lines:
                text, _, tag = line.partition("|")
                documents.append((intent, tag.strip() or None, text))
        for topic, lines in (examples or {}).items():
            if topic not in _TOPIC_INTENTS:
                raise ValueError(f"unknown FAQ topic {topic!r} in examples")
            topic_intent, topic_subtopic = _TOPIC_INTENTS[topic]
            documents.extend((topic_intent, topic_subtopic, line) for line in lines)
        self._index(documents)
        self._offices = tuple(
            _office_name(code, names) for code, names in sorted((offices or {}).items())
        )
        # Last word of each of an office's names (its place, mostly: "kanim *bogor*") → its
        # code. A name matches only if all its words are in the message, so a message is only
        # checked against the offices it could name (151 offices cost about as little as 3).
        self._offices_by_word: dict[str, set[str]] = defaultdict(set)
        for office in self._offices:
            for name in (*office.phrases, *office.places):
                self._offices_by_word[name[-1]].add(office.code)

    @classmethod
    def from_registry(cls, registry: OfficeRegistry) -> dict[str, IntentMatcher]:
        """One matcher per office: built-in paraphrases plus the office's FAQ `examples`
        (its overrides, else the national answers), knowing every office's names."""
        offices = {
            office.code: [office.name, office.short_name, office.service_name]
            + ([office.service_long_name] if office.service_long_name else [])
            for office in registry
        }
        matchers: dict[str, IntentMatcher] = {}
        # Offices with the same examples (all that keep the national answers) share one
        # matcher: 151 offices build a handful of indexes, not 151 (start-up time, memory).
        built: dict[tuple[tuple[str, tuple[str, ...]], ...], IntentMatcher] = {}
        for office in registry:
            examples: dict[str, list[str]] = {}
            for topic in _TOPIC_INTENTS:
                answer = registry.faq_answer(office, topic)
                if answer is not None and answer.examples:
                    examples[topic] = list(answer.examples)
            same = tuple((topic, tuple(texts)) for topic, texts in examples.items())
            if same not in built:
                built[same] = cls(examples=examples, offices=offices)
            matchers[office.code] = built[same]
        return matchers

    # --- index ---------------------------------------------------------------------------

    def _index(self, documents: list[tuple[Intent, str | None, str]]) -> None:
        bags = []
        document_frequency: dict[str, int] = defaultdict(int)
        for intent, subtopic, text in documents:
            terms = self._terms(analyze(text))
            bags.append((intent, subtopic, terms))
            for term in set(terms):
                document_frequency[term] += 1
        total = len(bags) or 1
        self._idf = {
            term: math.log((1 + total) / (1 + count)) + 1.0
            for term, count in document_frequency.items()
        }
        self._paraphrases: list[_Paraphrase] = []
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        # Words an intent uses without any subtopic: a subtopic paraphrase is only evidence
        # of its subtopic through the words it has beyond these ("anak", "umrah", "beda").
        self._general_terms: dict[Intent, set[str]] = defaultdict(set)
        for intent, subtopic, terms in bags:
            if subtopic is None:
                self._general_terms[intent].update(terms)
        for intent, subtopic, terms in bags:
            vector = self._vector(terms)
            if not vector:
                continue
            number = len(self._paraphrases)
            self._paraphrases.append(_Paraphrase(intent, subtopic, vector))
            for term, weight in vector.items():
                self._postings[term].append((number, weight))

    @staticmethod
    def _terms(analysis: Analysis) -> list[str]:
        return [stem for stem in analysis.stems if stem not in _STOP_FOR_SIMILARITY]

    def _vector(self, terms: Iterable[str]) -> dict[str, float]:
        counts: dict[str, int] = defaultdict(int)
        for term in terms:
            if term in self._idf:
                counts[term] += 1
        vector = {term: (1 + math.log(count)) * self._idf[term] for term, count in counts.items()}
        norm = math.sqrt(sum(weight * weight for weight in vector.values()))
        return {term: weight / norm for term, weight in vector.items()} if norm else {}

    def _similarity(self, analysis: Analysis) -> tuple[dict[Intent, float], dict[Intent, str]]:
        """Best cosine per intent, and the subtopic of that best paraphrase (if it has one)."""
        query = self._vector(self._terms(analysis))
        dots: dict[int, float] = defaultdict(float)
        shared: dict[int, int] = defaultdict(int)
        topical: set[int] = set()
        for term, weight in query.items():
            is_topical = term in _TOPICAL_TERMS
            for number, doc_weight in self._postings.get(term, ()):
                dots[number] += weight * doc_weight
                shared[number] += 1
                if is_topical:
                    topical.add(number)
        best: dict[Intent, float] = {}
        subtopics: dict[Intent, str] = {}
        for number, score in dots.items():
            if shared[number] == 1 and number not in topical:
                # One rare everyday word in common ("sekarang", "kucing") is not a
                # paraphrase: with TF-IDF it would weigh like a topic word.
                continue
            paraphrase = self._paraphrases[number]
            if score > best.get(paraphrase.intent, 0.0):
                best[paraphrase.intent] = score
                distinctive = paraphrase.vector.keys() - self._general_terms[paraphrase.intent]
                if (
                    paraphrase.subtopic
                    and score >= _SUBTOPIC_SIMILARITY
                    and not distinctive.isdisjoint(query)
                ):
                    subtopics[paraphrase.intent] = paraphrase.subtopic
                else:
                    subtopics.pop(paraphrase.intent, None)
        return best, subtopics

    # --- understanding ------------------------------------------------------------------

    def understand(
        self, text: str, *, reply_id: str | None = None, office_code: str | None = None
    ) -> Understanding:
        """What `text` asks for. `reply_id`: the id of a chosen list row or button, if any.
        `office_code`: the office written to (an office naming itself is not "another")."""
        if reply_id:
            chosen = _MENU_ROW_BY_ID.get(reply_id) or _intent_or_none(reply_id)
            if chosen is not None:
                analysis = analyze(text or "")
                return Understanding(
                    intent=chosen,
                    confidence=1.0,
                    language=analysis.language,
                    normalized=analysis.text,
                )
        phone_numbers, rest = extract_phone_numbers(text)
        analysis = analyze(rest)
        language = analysis.language
        choice = _BARE_CHOICE.match(text)
        if choice and not phone_numbers:
            position = int(choice.group(1))
            if 1 <= position <= len(MENU_ROWS):
                return Understanding(
                    intent=MENU_ROWS[position - 1][1],
                    confidence=1.0,
                    language=language,
                    normalized=analysis.text,
                )
        # --- handoff keywords (temporary: replaced by the classifier's handoff examples) ---
        if _HANDOFF_REQUEST.search(text.lower()):
            return Understanding(
                intent=Intent.HANDOFF, confidence=0.95, language=language, normalized=analysis.text
            )
        # --- end of handoff keywords ---
        requested = language_request(analysis.raw_tokens)
        if requested is not None and not phone_numbers:
            return Understanding(
                intent=Intent.MENU,
                confidence=1.0,
                language=requested,
                normalized=analysis.text,
                language_requested=True,
            )
        tokens = analysis.tokens
        other_office = self._other_office(analysis.raw_tokens, office_code)
        if not phone_numbers and all(
            token in _MENU_WORDS or token in _TOPIC_FREE for token in tokens
        ):
            if analysis.thanked:  # "oke makasih": the conversation ends with thanks
                return Understanding(
                    intent=Intent.FEEDBACK_APPRECIATION,
                    confidence=0.9,
                    language=language,
                    other_office=other_office,
                    normalized=analysis.text,
                )
            return Understanding(
                intent=Intent.MENU,
                confidence=1.0 if (analysis.greeted or tokens) else 0.6,
                language=language,
                other_office=other_office,
                normalized=analysis.text,
            )
        canonical_text = " " + analysis.text + " "
        scam_signals = tuple(
            name for name, pattern in SCAM_PATTERNS if pattern.search(canonical_text)
        )
        scores, similar_subtopic = self._score(analysis, text, phone_numbers, scam_signals)
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        best_intent, best = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        confidence = _confidence(best, second) * self._domain_factor(analysis)
        intent = best_intent if confidence >= self.threshold else Intent.FALLBACK
        if intent is Intent.FALLBACK and _MENU_REQUEST & set(tokens):
            # "tampilkan menu", "menu utama dong": asking for the menu in other words.
            intent, confidence = Intent.MENU, max(confidence, 0.8)
        return Understanding(
            intent=intent,
            confidence=round(confidence, 4),
            language=language,
            subtopic=_subtopic(intent, analysis, similar_subtopic.get(intent)),
            phone_numbers=phone_numbers,
            scam_signals=scam_signals,
            other_office=other_office,
            normalized=analysis.text,
        )

    def explain(self, text: str) -> list[tuple[Intent, float]]:
        """The raw score of every intent for `text`, best first (for tuning and ops)."""
        phone_numbers, rest = extract_phone_numbers(text)
        analysis = analyze(rest)
        canonical_text = " " + analysis.text + " "
        scam_signals = tuple(
            name for name, pattern in SCAM_PATTERNS if pattern.search(canonical_text)
        )
        scores, _ = self._score(analysis, text, phone_numbers, scam_signals)
        return sorted(scores.items(), key=lambda item: item[1], reverse=True)

    def _score(
        self,
        analysis: Analysis,
        text: str,
        phone_numbers: tuple[str, ...],
        scam_signals: tuple[str, ...],
    ) -> tuple[dict[Intent, float], dict[Intent, str]]:
        features = _features(analysis)
        scores: dict[Intent, float] = dict.fromkeys(KEYWORDS, 0.0)
        # A word counts once, by the stronger of its surface form and its stem
        # ("antrian"/"antri"); a repeated word counts once.
        for token, root in set(zip(analysis.tokens, analysis.stems, strict=True)):
            hits = _KEYWORD_INDEX.get(token, ())
            if root != token and root in _KEYWORD_INDEX:
                merged = dict(hits)
                for intent, weight in _KEYWORD_INDEX[root]:
                    merged[intent] = max(weight, merged.get(intent, -math.inf))
                hits = tuple(merged.items())
            for intent, weight in hits:
                scores[intent] += weight
        for key in features:
            if " " in key:
                for intent, weight in _KEYWORD_INDEX.get(key, ()):
                    scores[intent] += weight
        similarity, similar_subtopic = self._similarity(analysis)
        for intent, cosine in similarity.items():
            scores[intent] += SIMILARITY_WEIGHT * cosine
        tokens = analysis.tokens
        stems = analysis.stems
        # "tidak ramah", "not helpful": a negated compliment is a complaint.
        for index in range(1, len(stems)):
            if stems[index - 1] in _NEGATIONS and (
                stems[index] in _POSITIVE or tokens[index] in _POSITIVE
            ):
                scores[Intent.FEEDBACK_COMPLAINT] += 3.0
                scores[Intent.FEEDBACK_APPRECIATION] -= 3.0
        # Feedback is a speech act wrapped around a topic ("usul: buka hari sabtu"): its
        # markers outweigh the topic words they come with.
        for intent, markers in _SPEECH_ACTS.items():
            if markers & features:
                scores[intent] += 2.5
        # "paspor saya sudah jadi / sudah bisa diambil belum?" asks about one application.
        done = {"jadi", "selesai", "ready", "print", "printed", "cetak", "done", "ambil"} & features
        if done and {"saya", "my", "aku", "kami", "punya"} & features:
            scores[Intent.STATUS] += 1.5
        if done and {"sudah", "belum", "yet", "already"} & features:
            scores[Intent.STATUS] += 1.5
            if {"sudah", "belum"} <= features:  # "sudah … belum?": a yes/no about progress
                scores[Intent.STATUS] += 1.5
        # The lost/damaged answer covers that situation's requirements and fees too; but
        # "ktp saya hilang" is about another document (a requirements question).
        losses = [i for i, root in enumerate(stems) if root in _LOSS_WORDS]
        if losses and all(_loses_other_document(tokens, i) for i in losses):
            scores[Intent.FAQ_LOST_DAMAGED] -= sum(
                max(KEYWORDS[Intent.FAQ_LOST_DAMAGED].get(w, 0.0) for w in (tokens[i], stems[i]))
                for i in losses
            )
            scores[Intent.FAQ_REQUIREMENTS] += 1.0
        elif losses and _PASSPORT_WORDS & features:
            scores[Intent.FAQ_LOST_DAMAGED] += 1.5
        if looks_like_application_no(text) and not phone_numbers:
            scores[Intent.STATUS] += 3.0
        if phone_numbers and not _OWN_NUMBER.search(" " + analysis.text + " "):
            scores[Intent.FAQ_OFFICIAL_CHANNELS] += 4.0
        if scam_signals:
            # "Is this calo offer legit?" is an official-channels question; "can I register
            # through WhatsApp?" is a registration question that also gets the warning.
            if _LEGIT_WORDS & features:
                boost = 4.0
            elif set(scam_signals) == {"whatsapp_registration"}:
                boost = 1.0
            else:
                boost = 4.0 if "?" in text else 2.5
            scores[Intent.FAQ_OFFICIAL_CHANNELS] += boost
        return scores, similar_subtopic

    @staticmethod
    def _domain_factor(analysis: Analysis) -> float:
        """Confidence multiplier for words from outside the service (tickets, visas, pulsa)."""
        penalty = sum(_OUT_OF_DOMAIN.get(token, 0.0) for token in analysis.tokens)
        if not penalty:
            return 1.0
        if _DOMAIN_ANCHORS & set(analysis.tokens):
            penalty /= 2
        return math.exp(-0.8 * penalty)

    def _other_office(self, raw_tokens: Sequence[str], office_code: str | None) -> str | None:
        """The office the message names ("kanim bogor", "imigrasi batam"), if not this one."""
        named = set().union(*(self._offices_by_word.get(token, ()) for token in raw_tokens))
        for office in self._offices:
            if office.code == office_code or office.code not in named:
                continue
            if any(_contains(raw_tokens, phrase) >= 0 for phrase in office.phrases):
                return office.code
            for place in office.places:
                index = _contains(raw_tokens, place)
                while index >= 0:
                    before = raw_tokens[max(0, index - 3) : index]
                    if any(word in _OFFICE_WORDS for word in before):
                        return office.code
                    index = _contains(raw_tokens, place, index + 1)
        return None


_OTHER_DOCUMENTS = frozenset(
    """ktp ektp kk akta ijazah bukti kode billing struk nomor hp kartu surat resi""".split()
)


def _loses_other_document(tokens: Sequence[str], index: int) -> bool:
    """Whether the loss word at `index` is about another document ("ktp saya hilang")."""
    window = [*tokens[max(0, index - 2) : index], *tokens[index + 1 : index + 2]]
    return any(word in _OTHER_DOCUMENTS for word in window) and not any(
        word in _PASSPORT_WORDS for word in window
    )


def _intent_or_none(value: str) -> Intent | None:
    try:
        return Intent(value)
    except ValueError:
        return None


def _confidence(best: float, second: float) -> float:
    """Confidence from the best score and its lead over the runner-up, in [0, 1]."""
    if best <= 0:
        return 0.0
    strength = 1.0 - math.exp(-best / 2.5)
    lead = max(0.0, best - max(second, 0.0)) / best
    return max(0.0, min(1.0, strength * (0.55 + 0.45 * lead)))


def _subtopic(intent: Intent, analysis: Analysis, similar: str | None) -> str | None:
    rules = _SUBTOPICS.get(intent)
    if not rules:
        return None
    features = _features(analysis)
    hits = [name for name, words in rules if words & features]
    if intent is Intent.FAQ_LOST_DAMAGED and len(hits) > 1:
        return None  # "hilang atau rusak": the general answer covers both
    if hits:
        return hits[0]
    return similar
