"""Normalising what citizens type: informal Indonesian (and English) to canonical tokens.

Citizens write "brp biaya pspor skrg min??" or "Assalamualaikum kak, paspor sy ilang gmn".
This module turns such text into canonical tokens ("berapa biaya paspor sekarang",
"paspor saya hilang bagaimana") in a few cached, pure steps:

1. `clean`: fold to lowercase ASCII, drop punctuation and emoji, collapse letters typed 3+
   times to two, split letters from digits ("2jt" → "2 jt").
2. `canonical`: per token, the slang/abbreviation lexicon (`SLANG`), address words dropped
   ("min", "kak", "gan"), informal verb forms ("ngambil" → "ambil", "nawarin" → "tawar"),
   and typo repair against the domain vocabulary with rapidfuzz (`pspor` → `paspor`), with an
   edit budget that grows with the word's length.
3. `stem`: Indonesian stemming (Sastrawi, dictionary-based) for matching
   ("persyaratannya" → "syarat"), plus light English suffix stripping.

Every per-token step is memoised (`functools.lru_cache`): the vocabulary of a chat service
is small and repetitive, so after warm-up a message costs a handful of dict lookups.
`normalize(normalize(x)) == normalize(x)` holds: every output token is a fixed point.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA
from Sastrawi.Stemmer.Stemmer import Stemmer
from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

from gerbang.offices import Lang

# --- the lexicon ---------------------------------------------------------------------------

# Words that only address the reader ("min", "kak"): they carry no meaning for the intent.
ADDRESS_WORDS = frozenset(
    """min mimin admin kak ka kaka kakk gan agan sis sist bro broo bos boss bang mas mba mbak
    mbk pak bu buk bun om ndan suhu sob""".split()
)

# Informal spelling and abbreviations → the canonical word(s). Values are fixed points: they
# are never keys mapping elsewhere (a test checks this, so `normalize` stays idempotent).
SLANG: dict[str, str] = {}


def _slang(canonical: str, variants: str) -> None:
    for variant in variants.split():
        SLANG[variant] = canonical


_slang("bagaimana", "gmn gmna gimana gmana bgmn bgm gemana gimna gmnn bagaimna")
_slang("berapa", "brp brapa berapaan brpa brpan brapaan")
_slang("saya", "sy aku gw gue gua ak aq sya saia sayah")
_slang("sudah", "udh sdh udah dah uda sudh udha udahh sdah")
_slang("belum", "blm blom belom blum blon lom")
_slang("bisa", "bs bsa bsia bsi")
_slang("tidak", "tdk ga gak nggak ngga enggak engga gk g nda ndak gag tak kagak kaga gx")
_slang("yang", "yg yng")
_slang("dengan", "dgn dg")
_slang("untuk", "utk untk buat bwt")
_slang("karena", "krn krna karna")
_slang("tanggal", "tgl tggl")
_slang("jadi", "jd jdi")
_slang("sekarang", "skrg skrng skr skrang")
_slang("saja", "aja aj")
_slang("tanya", "tny tnya nanya nanyain tanyain nnya")
_slang("mau", "mo mw")
_slang("ingin", "pengen pgn pingin pen")
_slang("kenapa", "knp napa ngapa")
_slang("kapan", "kpn")
_slang("dimana", "dmn dmna dmana dimn")
_slang("kemana", "kmn kmna")
_slang("orang", "org")
_slang("tolong", "tlg tolonk")
_slang("mohon", "mhn")
_slang("terima kasih", "makasih mksh makasi mks trims trimakasih terimakasih makasiih trmksh")
_slang("thanks", "thx tq ty tks thank thankyou tengkyu")
_slang("banget", "bgt bngt bangett bangetz")
_slang("benar", "bener bnr")
_slang("lagi", "lg")
_slang("sama", "sm")
_slang("terus", "trs trus")
_slang("kalau", "kalo klo kl klw kalu")
_slang("juga", "jg")
_slang("dari", "dr")
_slang("sebelum", "sblm")
_slang("setelah", "stlh sesudah abis habis")
_slang("harus", "hrs")
_slang("lebih", "lbh")
_slang("tapi", "tp tpi")
_slang("memang", "emg emang")
_slang("begitu", "gitu gt")
_slang("begini", "gini")
_slang("ini", "ni")
_slang("itu", "tu")
_slang("dapat", "dpt dapet")
_slang("tahu", "tau tw")
_slang("lihat", "liat")
_slang("ada", "ad")
_slang("kemarin", "kmrn kemaren kmarin")
_slang("hari", "hr")
_slang("tahun", "thn th taun")
_slang("bulan", "bln")
_slang("minggu", "mgg mggu mingu")
_slang("juta", "jt jtan juta2")
_slang("ribu", "rb rebu")
_slang("nomor", "no nmr nomer nmor nomo")
_slang("whatsapp", "wa whatsap watsap wasap whatapp whatsup wea")
_slang("instagram", "ig")
_slang("akta", "akte")
_slang("orang tua", "ortu")
_slang("paspor", "passport pasport pspr pasprt passpor pasporr passport2 paspo pasp")
_slang("hilang", "ilang ilng hilng")
_slang("ambil", "ngambil ambl")
_slang("urus", "ngurus urs")
_slang("bayar", "byr bayr")
_slang("biaya", "biyaya byaya")
_slang("syarat", "syrt srt syart")
_slang("daftar", "dftr")
_slang("antri", "antre ngantri ngantre antry")
_slang("antrian", "antrean")
_slang("cepat", "cepet cpt")
_slang("lama", "lma lamaa")
_slang("imigrasi", "imigrsi imgrasi immigrasi imigras")
_slang("kantor", "ktr kntr")
_slang("perpanjang", "perpanjng prpnjng")
_slang("informasi", "info inpo")
_slang("pelayanan", "pelayananya pelayanany pelayanannya")
_slang("assalamualaikum", "assalamualaikom asalamualaikum assalamu'alaikum aslm askum asw assalamu")
_slang("waalaikumsalam", "walaikumsalam waalaikumussalam")
_slang("halo", "hallo helo hello hai hei hey hi hay alo")
_slang("selamat", "slmt")
_slang("sore", "sor")
_slang("malam", "malem mlm")
_slang("pagi", "pgi")
_slang("siang", "siank")
_slang("permisi", "punten misi")
_slang("anak", "anakku")
_slang("umrah", "umroh umrohh")
_slang("dokumen", "dokumn")
_slang("persyaratan", "persyratan persaratan")
_slang("pembayaran", "pembyaran")
_slang("pengambilan", "pengambilanya")
_slang("calo", "calonya")
_slang("mpaspor", "mpasport")
_slang("epaspor", "epasport epassport")
_slang("online", "onlen onlin")
_slang("pakai", "pake pke")
_slang("benar", "beneran bnran")
_slang("rekening", "rek norek rekeningnya")
_slang("tipu", "nipu")
_slang("balas", "bales bls")
_slang("dibalas", "dibales")
_slang("mantap", "mantul mantab mantep mantaap")
_slang("sampai", "sampe nyampe smpe")
# From the feedback service's former table (one lexicon for every service).
_slang("mengaku", "ngaku ngakunya ngakuin mengakunya")
_slang("uang", "duit doku fulus duwit uamg")
_slang("petugas", "ptgs ptugas petugasnya")
_slang("layanan", "layanannya")
_slang("saran", "sarannya")
_slang("masukan", "masukkan")
_slang("hubungi", "hubungin")
_slang("telepon", "tlp telp tlpn nelpon")
_slang("pungli", "punglinya pungly punglii")
_slang("tidak ada", "gaada gada")
_slang("kritik", "kritikan")
_slang("komplain", "komplen komplin")
_slang("banyak", "bnyk")
_slang("sangat", "sgt")
_slang("minta", "mnta mnt")
_slang("makelar", "makelarnya")

# Two-token spellings that mean one word: "di mana" → "dimana", "m paspor" → "mpaspor".
JOINS: dict[tuple[str, str], str] = {
    ("di", "mana"): "dimana",
    ("m", "paspor"): "mpaspor",
    ("e", "paspor"): "epaspor",
    ("terima", "kasih"): "terima kasih",
    ("assalamu", "alaikum"): "assalamualaikum",
    ("wa", "alaikumsalam"): "waalaikumsalam",
}

# Words of the domain that typos are repaired towards (Indonesian and English surface forms).
DOMAIN_VOCAB = frozenset(
    """paspor epaspor mpaspor imigrasi kantor syarat persyaratan dokumen berkas biaya harga
    tarif bayar pembayaran billing kode ambil pengambilan daftar pendaftaran antrian jadwal
    kuota hilang rusak sobek robek basah perpanjang perpanjangan status permohonan selesai
    progres alamat lokasi buka tutup jam operasional pelayanan petugas terima kasih mantap
    ramah kecewa komplain keluhan pungli saran masukan sebaiknya seharusnya resmi palsu
    penipuan calo rekening transfer wawancara kedatangan percepatan berapa bagaimana
    anak kelahiran keluarga nikah ijazah wakil kuasa kirim umrah haji kerja luar negeri
    minggu sabtu libur istirahat nomor whatsapp instagram website aplikasi online kadaluarsa
    expired indomaret tokopedia bukalapak lambat lelet ribet kasar jutek pungutan denda
    passport requirement document fee cost price payment pickup collect register
    registration appointment schedule office address hours open closed lost stolen
    damaged renew renewal status official scam fake complaint suggestion thanks kanim
    kanwil""".split()
)

# Common words that must never be "repaired" into a domain word (dari ≠ hari, bayi ≠ bayar).
_COMMON_ID = frozenset(
    """yang di ke dari dan atau ini itu ada apa siapa mana sini situ sana kalau jika tapi
    karena untuk dengan pada oleh sudah belum bisa tidak mau ingin perlu harus boleh dapat
    saya kamu anda kami kita dia mereka nya ya iya dong sih kok deh nih kah lah pun loh lho
    kan tuh aja saja juga lagi masih baru lama banget sekali sangat agak cuma hanya semua
    kapan berapa bagaimana gimana kenapa mengapa dimana kemana darimana tolong mohon
    terima kasih selamat pagi siang sore malam halo permisi maaf oke ok sip baik bagus
    hari minggu bulan tahun jam menit detik tanggal sekarang besok kemarin nanti tadi
    orang bapak ibu ayah suami istri kakak adik anak bayi balita keluarga teman
    wkwk wkwkwk haha hehe hihi""".split()
)
_COMMON_EN = frozenset(
    """a an the is are was were be been being am i me my mine you your we our us they them
    their he she his her it its this that these those what which who whom whose when where
    why how much many long do does did done doing have has had can could will would shall
    should may might must need needs to of in on at by for from with without about into
    over after before and or but if so not no yes please thank thanks hello hi hey good
    morning afternoon evening night there here get got make made apply applying new old
    renew renewal child children kid baby minor adult work abroad migrant worker
    passport passports requirement requirements document documents fee fees cost costs
    price pay paid paying payment billing code office address hours open close closed
    lost stolen damaged torn wet status ready printed done finished application number
    official real fake scam legit broker agent whatsapp complaint complain rude slow
    disappointed suggestion suggest better nice great excellent service staff queue
    appointment schedule register registration online app pickup pick up collect
    delivered delivery post send weekend saturday sunday today tomorrow days weeks
    located location far near officer officers staff employee counter ask asked money
    bribe extra help helped helpful wait waited waiting line hour minute people someone
    said told give gave send sent call called message chat reply replied answer""".split()
)

# Indonesian places people name (offices, cities): protected from typo repair.
PLACES = frozenset(
    """jakarta pusat utara selatan barat timur jakpus jaksel jakut jakbar jaktim bogor batam
    depok tangerang bekasi bandung surabaya semarang medan makassar palembang yogyakarta
    jogja yogya solo malang denpasar bali ngurah rai soekarno hatta cengkareng kemayoran
    karawang pati blitar bekasi cirebon tasikmalaya cilacap kediri jember padang pekanbaru
    jambi bengkulu lampung pontianak balikpapan samarinda banjarmasin manado kupang mataram
    ambon jayapura sorong tanjung pinang tanjungpinang belitung serang sukabumi garut
    purwakarta madiun mojokerto sidoarjo gresik""".split()
)

_ENGLISH_SUFFIXES = ("ing", "ed", "es", "s")

_SASTRAWI: Stemmer = StemmerFactory().create_stemmer().delegatedStemmer
_ROOTS: frozenset[str] = frozenset(word for word in _SASTRAWI.dictionary.words if word)

_KNOWN = frozenset(
    set(DOMAIN_VOCAB)
    | _COMMON_ID
    | _COMMON_EN
    | PLACES
    | {word for value in SLANG.values() for word in value.split()}
)

# --- cleaning ------------------------------------------------------------------------------

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")
_DOUBLE = re.compile(r"([a-z])\1")


def fold(text: str) -> str:
    """Lowercase ASCII: accents removed (café → cafe), other scripts and emoji dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii").lower()


def clean(text: str) -> list[str]:
    """Raw tokens: folded, punctuation/emoji removed, 3+ repeated letters collapsed to two."""
    folded = _REPEATS.sub(r"\1\1", fold(text))
    spaced = _LETTER_DIGIT.sub(" ", _NON_ALNUM.sub(" ", folded))
    return spaced.split()


# --- per-token canonicalisation ------------------------------------------------------------


@lru_cache(maxsize=65_536)
def stem(token: str) -> str:
    """Root of a word: Sastrawi for Indonesian ("pembayarannya" → "bayar"), light English
    suffix stripping for known English words ("documents" → "document")."""
    if token.isdigit() or len(token) < 4:
        return token
    if not _contains_root(token):
        for suffix in _ENGLISH_SUFFIXES:
            base = token[: -len(suffix)]
            if token.endswith(suffix) and len(base) >= 3 and base in _COMMON_EN:
                return base
            if suffix in ("ing", "ed") and token.endswith(suffix) and base + "e" in _COMMON_EN:
                return base + "e"  # "renewing" → "renew", "located" → "locate"
        if token in _COMMON_EN:
            return token
    rooted: str = _SASTRAWI.stem(token)
    return rooted or token


def _contains_root(word: str) -> bool:
    return word in _ROOTS


def _is_root_word(token: str) -> bool:
    return _contains_root(token) or _contains_root(stem(token))


def _known(token: str) -> bool:
    return token in _KNOWN or token in ADDRESS_WORDS or _is_root_word(token)


def _informal_roots(token: str) -> Iterable[str]:
    """Candidate standard forms of an informal verb: ngambil → ambil, nawarin → tawar."""
    bases = [token]
    if token.endswith("in") and len(token) > 5:
        bases += [token[:-2], token[:-2] + "kan"]
    for base in bases:
        if base is not token:
            yield base
        for prefix in ("di", "ke"):
            if base.startswith(prefix) and len(base) > len(prefix) + 3:
                yield base[len(prefix) :]
        if base.startswith("nge") and len(base) > 5:
            yield base[3:]
        if base.startswith("ng") and len(base) > 4 and base[2] in "aiueo":
            yield base[2:]
            yield "k" + base[2:]
        if base.startswith("ny") and len(base) > 4 and base[2] in "aiueo":
            yield "c" + base[2:]
            yield "s" + base[2:]
        if base.startswith("n") and len(base) > 4 and base[1] in "aiueo":
            yield "t" + base[1:]


def _max_edits(token: str) -> int:
    """Typo budget that grows with length: short words are too easy to confuse."""
    length = len(token)
    if length < 4:
        return 0
    if length <= 6:
        return 1
    if length <= 10:
        return 2
    return 3


_TYPO_TARGETS = tuple(sorted(word for word in DOMAIN_VOCAB if len(word) >= 4))


def _repair_typo(token: str) -> str | None:
    """The domain word this token is a typo of, if it is close enough (same first letter)."""
    budget = _max_edits(token)
    if budget == 0:
        return None
    candidates = [word for word in _TYPO_TARGETS if word[0] == token[0]]
    found = process.extractOne(token, candidates, scorer=OSA.distance, score_cutoff=budget)
    return found[0] if found else None


@lru_cache(maxsize=65_536)
def canonical(token: str) -> tuple[str, ...]:
    """The canonical token(s) for one raw token: () for address words, else 1–2 words."""
    if token in ADDRESS_WORDS:
        return ()
    if token in SLANG:
        return tuple(SLANG[token].split())
    if token.isdigit() or token in _KNOWN or _is_root_word(token) or stem(token) in _COMMON_EN:
        return (token,)
    single = _DOUBLE.sub(r"\1", token)
    if single != token and (single in SLANG or single in ADDRESS_WORDS or _known(single)):
        return canonical(single)
    for suffix in ("nya", "ny", "ku", "mu"):
        base = token[: -len(suffix)]
        if token.endswith(suffix) and len(base) >= 4 and base in SLANG:
            return tuple(SLANG[base].split())
    for candidate in _informal_roots(token):
        if candidate in SLANG:
            return tuple(SLANG[candidate].split())
        if _contains_root(candidate):
            return (candidate,)
    repaired = _repair_typo(token)
    if repaired is None and token.endswith("nya") and len(token) >= 7:
        repaired = _repair_typo(token[:-3])
    return (repaired,) if repaired else (token,)


def canonical_tokens(raw_tokens: Iterable[str]) -> list[str]:
    """Canonical tokens of a message, with two-token spellings joined ("di mana")."""
    out: list[str] = []
    for raw in raw_tokens:
        for word in canonical(raw):
            if out and (out[-1], word) in JOINS:
                joined = JOINS[(out[-1], word)].split()
                out[-1:] = joined
            else:
                out.append(word)
    return out


def normalize(text: str) -> str:
    """Canonical text: lowercase ASCII words separated by single spaces (idempotent)."""
    return " ".join(canonical_tokens(clean(text)))


# --- greetings and language ----------------------------------------------------------------

# Greeting phrases, longest first; stripped from the start of a message (and thanks from the
# end when something else was said), because they carry no intent.
GREETINGS: tuple[tuple[str, ...], ...] = tuple(
    sorted(
        (
            tuple(phrase.split())
            for phrase in (
                "assalamualaikum warahmatullahi wabarakatuh",
                "assalamualaikum wr wb",
                "assalamualaikum",
                "waalaikumsalam",
                "wr wb",
                "wrwb",
                "selamat pagi",
                "selamat siang",
                "selamat sore",
                "selamat malam",
                "good morning",
                "good afternoon",
                "good evening",
                "halo",
                "pagi",
                "siang",
                "sore",
                "malam",
                "permisi",
                "salam",
                "shalom",
                "om swastiastu",
                "dear",
            )
        ),
        key=len,
        reverse=True,
    )
)
_CLOSINGS: tuple[tuple[str, ...], ...] = (
    ("terima", "kasih", "banyak"),
    ("terima", "kasih"),
    ("thanks",),
    ("thank", "you"),
    ("sebelumnya",),
)


def strip_greetings(tokens: list[str]) -> tuple[list[str], bool]:
    """Tokens without leading greetings and trailing thanks; and whether a greeting was there.

    A closing "terima kasih" after a question is politeness, not appreciation, so it is
    removed only when something else remains.
    """
    rest = list(tokens)
    greeted = False
    changed = True
    while changed and rest:
        changed = False
        for phrase in GREETINGS:
            if tuple(rest[: len(phrase)]) == phrase:
                rest = rest[len(phrase) :]
                greeted = changed = True
                break
    changed = True
    while changed:
        changed = False
        for phrase in _CLOSINGS:
            if len(rest) > len(phrase) and tuple(rest[-len(phrase) :]) == phrase:
                rest = rest[: -len(phrase)]
                changed = True
                break
    return rest, greeted


_EN_MARKERS = frozenset(
    """a an the is are was were be been am i me my you your we our they their it its this that
    what which who when where why how much many long do does did have has had can could will
    would should need to of in on at for from with about and or but if not yes please thank
    thanks hello morning afternoon evening get make new old renew renewal child kid baby work
    passport requirements requirement documents document fee fees cost price pay payment
    paid office address hours open closed lost stolen damaged ready printed official real
    fake scam complaint rude slow disappointed suggestion suggest better nice great excellent
    service staff queue appointment schedule register pickup collect delivered post weekend
    saturday sunday today days weeks located there here just still already my""".split()
)
_ID_MARKERS = (
    frozenset(
        set(SLANG)
        | {word for value in SLANG.values() for word in value.split()}
        | set(_COMMON_ID)
        | {"paspor", "syarat", "biaya", "bayar", "ambil", "daftar", "hilang", "rusak", "buka"}
    )
    - _EN_MARKERS
    - {"no", "online", "status", "info", "halo", "hi", "hello", "hey", "ok", "oke"}
)


def detect_language(raw_tokens: Iterable[str]) -> Lang:
    """'en' when English words outnumber Indonesian ones, else 'id' (the default)."""
    english = indonesian = 0.0
    for token in raw_tokens:
        if token in _EN_MARKERS:
            english += 1
        elif token in _ID_MARKERS:
            indonesian += 1
        elif len(token) > 3 and not token.isdigit() and _is_root_word(token):
            indonesian += 0.5
    return "en" if english > indonesian else "id"


# --- one call for the matcher --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Analysis:
    """A message prepared for matching."""

    raw_tokens: tuple[str, ...]
    """Cleaned tokens before the lexicon (office names and language are read from these)."""
    tokens: tuple[str, ...]
    """Canonical tokens, greetings stripped."""
    stems: tuple[str, ...]
    """Stems of `tokens`, same order."""
    greeted: bool
    language: Lang
    thanked: bool = False
    """The message says thanks somewhere (even if the closing thanks was stripped)."""

    @property
    def text(self) -> str:
        """The canonical text (greetings stripped)."""
        return " ".join(self.tokens)


def analyze(text: str) -> Analysis:
    """Clean, canonicalise, strip greetings, stem and detect the language of a message."""
    raw = clean(text)
    canonical_words = canonical_tokens(raw)
    tokens, greeted = strip_greetings(canonical_words)
    return Analysis(
        thanked="thanks" in canonical_words or "kasih" in canonical_words,
        raw_tokens=tuple(raw),
        tokens=tuple(tokens),
        stems=tuple(stem(token) for token in tokens),
        greeted=greeted,
        language=detect_language(raw),
    )
