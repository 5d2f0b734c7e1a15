"""Every figure and required document in the answers matches the reference.

Reference: ../shared/reference/paspor-facts.md (section numbers in each case). One case per
figure, so a wrong number names itself.
"""

from __future__ import annotations

import re

import pytest

from gerbang.faq.content import TOPICS, render, sample_extra
from gerbang.offices import Lang, Office, OfficeRegistry

CASES: list[tuple[str, Lang, str, str]] = [
    # (topic, language, text that must appear, reference section)
    # §2.4 fees (PP 45/2024)
    ("fees", "id", "PP 45/2024", "§2.4"),
    ("fees", "id", "17 Desember 2024", "§2.4"),
    ("fees", "en", "17 December 2024", "§2.4"),
    ("fees", "id", "Rp1.000.000* di luar biaya paspor", "§2.4 percepatan"),
    ("fees", "en", "IDR 1,000,000* on top of the passport fee", "§2.4 percepatan"),
    ("fees", "id", "hilang: beban Rp1.000.000", "§2.4 lost"),
    ("fees", "id", "rusak: beban Rp500.000", "§2.4 damaged"),
    ("fees", "en", "Lost passport: a charge of IDR 1,000,000", "§2.4 lost"),
    ("fees", "en", "damaged passport: IDR 500,000", "§2.4 damaged"),
    ("fees", "id", "17 tahun ke atas atau yang sudah menikah", "§2.4 10-year validity"),
    ("fees", "en", "17 and over or married", "§2.4 10-year validity"),
    ("fees", "id", "paspor anak berlaku paling lama 5 tahun", "§2.3"),
    # §2.1 / §2.5 payment
    ("payment", "id", "*15 digit*", "§2.1"),
    ("payment", "en", "*15-digit billing code*", "§2.1"),
    ("payment", "id", "*2 jam*", "§2.1"),
    ("payment", "en", "*2 hours*", "§2.1"),
    ("payment", "id", "MPN G2", "§2.5"),
    ("payment", "id", "Penerimaan Negara", "§2.5"),
    ("payment", "id", "Kantor Pos", "§2.5"),
    ("payment", "id", "Indomaret", "§2.5"),
    ("payment", "id", "Tokopedia atau Bukalapak", "§2.5"),
    ("payment", "id", "Dompet digital", "§2.5"),
    ("payment", "id", "Bukti Penerimaan Negara/BPN", "§2.5"),
    ("payment", "id", "rekening pribadi", "§2.8"),
    ("payment", "en", "personal account", "§2.8"),
    # §2.6 pickup
    ("pickup", "id", "*3–4 hari kerja*", "§2.6"),
    ("pickup", "en", "*3–4 working days*", "§2.6"),
    ("pickup", "id", "*30 hari*", "§2.6"),
    ("pickup", "en", "*30 days*", "§2.6"),
    ("pickup", "id", "*e-KTP* dan *bukti pembayaran*", "§2.6"),
    ("pickup", "id", "PT Pos Indonesia", "§2.6"),
    ("pickup", "en", "PT Pos Indonesia", "§2.6"),
    # §2.7 lost / damaged
    ("lost", "id", "*Rp1.000.000*", "§2.7"),
    ("lost", "en", "*IDR 1,000,000*", "§2.7"),
    ("lost", "id", "Berita Acara Pemeriksaan (BAP)", "§2.7"),
    ("lost", "id", "*Surat keterangan hilang dari kepolisian*", "§2.7"),
    ("lost", "id", "*tidak* melalui M-Paspor", "§2.7"),
    ("damaged", "id", "*Rp500.000*", "§2.7"),
    ("damaged", "en", "*IDR 500,000*", "§2.7"),
    ("damaged", "id", "biodata tidak terbaca", "§2.7 definition"),
    ("damaged", "id", "terlipat tidak wajar, sobek/terpotong, berlubang, atau terbakar", "§2.7"),
    ("damaged", "id", "Paspor yang rusak", "§2.7"),
    ("lost_damaged", "id", "hilang *Rp1.000.000*, rusak *Rp500.000*", "§2.7"),
    ("lost_damaged", "en", "lost *IDR 1,000,000*, damaged *IDR 500,000*", "§2.7"),
    ("lost_damaged", "id", "surat keterangan hilang dari kepolisian", "§2.7"),
    # §2.2 adult requirements
    ("requirements", "id", "e-KTP yang masih berlaku", "§2.2"),
    ("requirements", "id", "Kartu Keluarga (KK)", "§2.2"),
    (
        "requirements",
        "id",
        "akta kelahiran, akta perkawinan/buku nikah, ijazah, atau surat baptis",
        "§2.2",
    ),
    ("requirements", "id", "surat keterangan pindah ke luar negeri", "§2.2"),
    ("requirements", "id", "Surat pewarganegaraan", "§2.2"),
    ("requirements", "id", "Surat penetapan ganti nama", "§2.2"),
    ("requirements", "id", "Paspor lama (jika ada)", "§2.2"),
    ("requirements", "en", "birth certificate (akta kelahiran)", "§2.2"),
    ("requirements", "en", "baptism certificate (surat baptis)", "§2.2"),
    # §2.3 minors
    ("requirements.minor", "id", "e-KTP ayah dan ibu", "§2.3"),
    ("requirements.minor", "id", "Akta kelahiran anak", "§2.3"),
    ("requirements.minor", "id", "Buku nikah/akta perkawinan orang tua", "§2.3"),
    ("requirements.minor", "id", "*Surat pernyataan* yang ditandatangani kedua orang tua", "§2.3"),
    ("requirements.minor", "id", "*bermeterai*", "§2.3"),
    ("requirements.minor", "id", "*Kedua orang tua* wajib mendampingi", "§2.3"),
    ("requirements.minor", "id", "panggilan video", "§2.3"),
    ("requirements.minor", "en", "signed by both parents, with a *duty stamp* (meterai)", "§2.3"),
    ("requirements.minor", "en", "*Both parents* must come", "§2.3"),
    ("requirements.minor", "id", "paling lama 5 tahun", "§2.3"),
    # §2.1 registration
    ("registration", "id", "*hanya* melalui aplikasi resmi *M-Paspor*", "§2.1"),
    ("registration", "id", "*tidak* melalui WhatsApp", "§2.1"),
    ("registration", "id", "hingga 5 orang", "§2.1"),
    ("registration", "en", "*never* over WhatsApp", "§2.1"),
    # §2.8 official channels
    ("official_channels", "id", "*081230030440*", "§2.8"),
    ("official_channels", "id", "IMI-1933.PR.07.04", "§2.8"),
    ("official_channels", "id", "Calo dilarang", "§2.8"),
    ("official_channels", "id", "*tidak pernah* melalui WhatsApp", "§2.8"),
    ("official_channels", "id", "*cek nomor*", "§2.8"),
    ("official_channels", "en", "*check number*", "§2.8"),
]


@pytest.mark.parametrize(
    ("topic", "lang", "expected", "section"),
    CASES,
    ids=[f"{topic}-{lang}-{expected[:30]}" for topic, lang, expected, _ in CASES],
)
def test_figure_matches_reference(
    registry: OfficeRegistry, jakpus: Office, topic: str, lang: Lang, expected: str, section: str
) -> None:
    assert expected in render(registry, jakpus, topic, lang), f"reference {section}"


@pytest.mark.parametrize(
    ("lang", "tier", "five_years", "ten_years"),
    [
        ("id", "Paspor biasa", "• 5 tahun: Rp350.000", "• 10 tahun: Rp650.000"),
        ("id", "E-paspor", "• 5 tahun: Rp650.000", "• 10 tahun: Rp950.000"),
        ("en", "Ordinary passport", "• 5 years: IDR 350,000", "• 10 years: IDR 650,000"),
        ("en", "E-passport", "• 5 years: IDR 650,000", "• 10 years: IDR 950,000"),
    ],
)
def test_fee_table_pairs_each_tier_with_its_prices(
    registry: OfficeRegistry,
    jakpus: Office,
    lang: Lang,
    tier: str,
    five_years: str,
    ten_years: str,
) -> None:
    # §2.4: the paragraph of a tier lists exactly its two prices (no swap between tiers).
    text = render(registry, jakpus, "fees", lang)
    paragraph = next(p for p in text.split("\n\n") if p.startswith(tier))
    assert paragraph.splitlines()[1:] == [five_years, ten_years]


# The only rupiah amounts the reference gives for current passports (§2.4, §2.7).
REFERENCE_AMOUNTS = {"350.000", "500.000", "650.000", "950.000", "1.000.000"}


@pytest.mark.parametrize("topic", TOPICS)
def test_no_amount_outside_the_reference(
    registry: OfficeRegistry, jakpus: Office, topic: str
) -> None:
    # Catches outdated or invented figures (Rp355.000, Rp600.000 …) anywhere in the answers.
    indonesian = render(registry, jakpus, topic, "id", extra=sample_extra(topic))
    english = render(registry, jakpus, topic, "en", extra=sample_extra(topic))
    found_id = set(re.findall(r"Rp\s?([\d.]+\d)", indonesian))
    found_en = {a.replace(",", ".") for a in re.findall(r"IDR\s?([\d,]+\d)", english)}
    assert found_id <= REFERENCE_AMOUNTS
    assert found_en <= REFERENCE_AMOUNTS
    assert found_id == found_en, "the two languages quote different amounts"
