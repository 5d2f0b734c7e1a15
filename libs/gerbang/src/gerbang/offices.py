"""Offices are data: one folder per office under `offices/`, plus national defaults.

Layout:
    offices/_national/national.yaml   national settings: known fake numbers, complaint channels
    offices/_national/faq.yaml        national default FAQ answers (every office inherits them)
    offices/<code>/office.yaml        the office: names, WhatsApp number, address, hours
    offices/<code>/faq.yaml           optional: the office's overrides of any FAQ answer
    offices/_national/texts.yaml      the catalogue of every other text citizens read (menus,
                                      prompts, confirmations, stage names, errors)
    offices/<code>/texts.yaml         optional: the office's overrides of any catalogue text

Everything is validated with pydantic at start-up; a broken file raises `OfficeConfigError`
naming the file and the field, so the operator knows exactly what to fix. Adding an office is
adding a folder. Secrets are never in these files: they come from the environment (see
`office_secret`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gerbang.phone import normalize_msisdn

Lang = Literal["id", "en"]
LANGS: tuple[Lang, ...] = ("id", "en")

OfficeCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")]


class OfficeConfigError(Exception):
    """An office or national file is missing or invalid. The message names file and field."""


class UnknownOffice(LookupError):
    """No office has this code or WhatsApp phone_number_id."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalizedText(_Strict):
    """The same text in Bahasa Indonesia (required) and English (optional: falls back to id)."""

    id: str = Field(min_length=1, description="Bahasa Indonesia text")
    en: str | None = Field(default=None, description="English text; Indonesian is used if absent")

    def get(self, lang: Lang) -> str:
        """Text in `lang`, falling back to Indonesian."""
        if lang == "en" and self.en:
            return self.en
        return self.id


class CatalogueText(_Strict):
    """A text of the catalogue (`offices/_national/texts.yaml`): both languages required."""

    id: str = Field(min_length=1, description="Bahasa Indonesia text")
    en: str = Field(min_length=1, description="English text")
    limit: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description="WhatsApp's limit where the text is shown (20: a button title); national only",
    )
    about: str | None = Field(default=None, description="Where citizens read it (for staff)")

    def get(self, lang: Lang) -> str:
        """Text in `lang`."""
        return self.en if lang == "en" else self.id

    @property
    def localized(self) -> LocalizedText:
        """The two languages as the content editor handles them."""
        return LocalizedText(id=self.id, en=self.en)

    @model_validator(mode="after")
    def _same_placeholders(self) -> CatalogueText:
        # A placeholder only one language uses would be filled in one and missing in the other.
        names = []
        for text in (self.id, self.en):
            try:
                names.append({n for _, n, _, _ in string.Formatter().parse(text) if n is not None})
            except ValueError as exc:
                raise ValueError(f"broken placeholder syntax: {exc}") from None
        if names[0] != names[1]:
            only_id = ", ".join(sorted(names[0] - names[1])) or "-"
            only_en = ", ".join(sorted(names[1] - names[0])) or "-"
            raise ValueError(
                f"id and en must use the same placeholders (only id: {only_id}; only en: {only_en})"
            )
        return self


class FaqAnswer(_Strict):
    """One answer of the knowledge base, with where it comes from and when it was checked."""

    text: LocalizedText
    source: str = Field(min_length=1, description="Where the facts come from (reference, URL)")
    verified_on: dt.date = Field(description="When the facts were last checked")
    uncertain: str | None = Field(
        default=None, description="What is not certain in this answer, for office staff"
    )
    examples: list[str] = Field(
        default_factory=list,
        description="Extra ways citizens ask for this topic (added to the matcher's paraphrases)",
    )


class OpeningHours(_Strict):
    """Opening hours on some days of the week."""

    days: LocalizedText = Field(description="e.g. 'Senin–Jumat' / 'Monday–Friday'")
    open: dt.time
    close: dt.time
    note: LocalizedText | None = None

    @field_validator("close")
    @classmethod
    def _close_after_open(cls, close: dt.time, info: Any) -> dt.time:
        opened = info.data.get("open")
        if opened is not None and close <= opened:
            raise ValueError("close must be after open")
        return close


class TemplateRef(_Strict):
    """An approved WhatsApp message template (the only kind allowed outside the 24 h window)."""

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    language: str = Field(default="id", description="Template language code, e.g. id or en_US")


class WhatsAppNumber(_Strict):
    """The office's WhatsApp Business number on Meta's Cloud API."""

    phone_number_id: str = Field(
        pattern=r"^\d{5,20}$", description="Meta's id of the number: routes webhooks and sends"
    )
    display_number: str = Field(description="The number citizens see, digits with country code")
    throughput_mps: int = Field(
        default=80, ge=1, le=1000, description="Messages per second Meta allows on this number"
    )
    status_template: TemplateRef | None = Field(
        default=None, description="Approved template for status notifications past 24 h"
    )

    @field_validator("display_number")
    @classmethod
    def _digits(cls, value: str) -> str:
        digits = normalize_msisdn(value)
        if digits is None:
            raise ValueError(f"not a phone number: {value!r}")
        return digits


class Office(_Strict):
    """One Kantor Imigrasi and its WhatsApp information service."""

    code: OfficeCode
    name: str = Field(min_length=3, description="Official name of the office")
    short_name: str = Field(min_length=2, description="Short name used in replies")
    service_name: str = Field(min_length=2, description="Brand of the WhatsApp service, e.g. SIGAP")
    service_long_name: str | None = None
    ticket_prefix: str = Field(pattern=r"^[A-Z]{2,5}$", description="Prefix of feedback tickets")
    example: bool = Field(
        default=False, description="True for illustrative offices whose data is not official"
    )
    whatsapp: WhatsAppNumber
    address: LocalizedText
    address_verified: bool = Field(
        default=False, description="Whether the address was checked against an official source"
    )
    maps_url: str | None = None
    hours: list[OpeningHours] = Field(min_length=1)
    hours_verified: bool = False
    website: str | None = None
    instagram: str | None = None
    email: str | None = None
    faq: dict[str, FaqAnswer] = Field(
        default_factory=dict, description="This office's overrides of national FAQ answers"
    )
    texts: dict[str, CatalogueText] = Field(
        default_factory=dict, description="This office's overrides of national catalogue texts"
    )

    @property
    def display_number(self) -> str:
        """The WhatsApp number citizens write to (digits, country code)."""
        return self.whatsapp.display_number


class NationalConfig(_Strict):
    """National settings shared by every office."""

    known_fake_numbers: list[str] = Field(
        default_factory=list, description="Numbers reported as fraudulent (any format)"
    )
    known_fake_sources: dict[str, str] = Field(
        default_factory=dict, description="Where each known fake number was reported"
    )
    other_official_numbers: dict[str, LocalizedText] = Field(
        default_factory=dict,
        description="Official numbers that are not office WhatsApp services (e.g. hotlines)",
    )
    complaint_channels: LocalizedText = Field(description="Official complaint channels")
    official_app: str = Field(default="M-Paspor")
    faq: dict[str, FaqAnswer] = Field(default_factory=dict, description="National FAQ answers")
    texts: dict[str, CatalogueText] = Field(
        default_factory=dict, description="The catalogue of every other citizen-facing text"
    )

    @field_validator("known_fake_numbers")
    @classmethod
    def _normalise(cls, numbers: list[str]) -> list[str]:
        normalised = []
        for raw in numbers:
            digits = normalize_msisdn(raw)
            if digits is None:
                raise ValueError(f"not a phone number: {raw!r}")
            normalised.append(digits)
        return normalised


NATIONAL_SCOPE = "national"
"""The scope of published content that every office inherits (beside office codes)."""


@dataclass(frozen=True)
class Notice:
    """An office announcement, shown above its answers from `valid_from` to `valid_until`."""

    text: LocalizedText
    valid_from: dt.datetime
    valid_until: dt.datetime


OWN_TOPIC_PREFIX = "own."
"""The name of a topic one office created in `/ops`: `own.<name>` (beside the FAQ topics)."""


@dataclass(frozen=True)
class OwnTopic:
    """A topic one office created in `/ops`: its title; its answer is a published answer
    under the same name, its example questions label it for the matcher."""

    title: LocalizedText
    examples: tuple[str, ...]


class PublishedContent:
    """What staff published in `/ops` over the YAML baseline (`gerbang.publishing` keeps it
    up to date from `content.published`). Empty in a process that does not follow the topic
    (`gerbang ask` without `--published`/`--content`, tests of the core): the YAML alone.

    Besides answers and announcements: each office's labelled examples (per topic) and its
    own topics, which the matcher reads per office (`examples_of`); `generation` changes
    whenever an office's examples do, so the matcher rebuilds only that office's index."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str], FaqAnswer] = {}
        self._notices: dict[str, Notice] = {}
        self._examples: dict[str, dict[str, tuple[str, ...]]] = {}
        self._own_topics: dict[str, dict[str, OwnTopic]] = {}
        self._generations: dict[str, int] = {}

    def answer(self, scope: str, topic: str) -> FaqAnswer | None:
        """The published answer of `scope` (an office code or `NATIONAL_SCOPE`), if any."""
        return self._answers.get((scope, topic))

    def notice(self, office: str, at: dt.datetime) -> Notice | None:
        """The office's announcement if it is valid at `at`."""
        notice = self._notices.get(office)
        if notice is None or not notice.valid_from <= at < notice.valid_until:
            return None
        return notice

    def copy(self) -> PublishedContent:
        """An independent copy (to try a candidate without touching what is live)."""
        other = PublishedContent()
        other._answers = dict(self._answers)
        other._notices = dict(self._notices)
        other._examples = {office: dict(by) for office, by in self._examples.items()}
        other._own_topics = {office: dict(by) for office, by in self._own_topics.items()}
        other._generations = dict(self._generations)
        return other

    def generation(self, office: str) -> int:
        """Changes whenever the office's examples or own topics change (0: never had any)."""
        return self._generations.get(office, 0)

    def _touch(self, office: str) -> None:
        self._generations[office] = self._generations.get(office, 0) + 1

    def set_examples(self, office: str, topic: str, examples: tuple[str, ...]) -> None:
        """Publish (or withdraw, with ()) an office's labelled examples of `topic`."""
        by_topic = self._examples.setdefault(office, {})
        if examples:
            by_topic[topic] = tuple(examples)
        else:
            by_topic.pop(topic, None)
        self._touch(office)

    def examples(self, office: str, topic: str) -> tuple[str, ...]:
        """The office's published examples attached to `topic` (not its own topics')."""
        return self._examples.get(office, {}).get(topic, ())

    def set_own_topic(self, office: str, topic: str, own: OwnTopic | None) -> None:
        """Publish (or withdraw, with None) an office's own topic (its answer: `set_answer`)."""
        by_topic = self._own_topics.setdefault(office, {})
        if own is None:
            by_topic.pop(topic, None)
        else:
            by_topic[topic] = own
        self._touch(office)

    def own_topics(self, office: str) -> dict[str, OwnTopic]:
        """The office's own topics that are live, by name (`own.<name>`)."""
        return dict(self._own_topics.get(office, {}))

    def examples_of(self, office: str) -> list[tuple[str, str]]:
        """Every (example, topic) pair that labels the office's messages: the examples
        attached to topics (an own topic's only while it is live) and the own topics'
        example questions."""
        own = self._own_topics.get(office, {})
        pairs = [
            (example, topic)
            for topic, examples in sorted(self._examples.get(office, {}).items())
            if not topic.startswith(OWN_TOPIC_PREFIX) or topic in own
            for example in examples
        ]
        pairs += [
            (example, topic) for topic, value in sorted(own.items()) for example in value.examples
        ]
        return pairs

    def set_answer(self, scope: str, topic: str, answer: FaqAnswer | None) -> None:
        """Publish (or withdraw, with None) an answer of a scope."""
        if answer is None:
            self._answers.pop((scope, topic), None)
        else:
            self._answers[(scope, topic)] = answer

    def set_notice(self, office: str, notice: Notice | None) -> None:
        """Publish (or withdraw, with None) an office's announcement."""
        if notice is None:
            self._notices.pop(office, None)
        else:
            self._notices[office] = notice


@dataclass(frozen=True)
class OfficeRegistry:
    """Every office, indexed the ways the services look them up."""

    national: NationalConfig
    offices: Mapping[str, Office]
    _by_phone_number_id: Mapping[str, Office] = field(repr=False)
    _by_display_number: Mapping[str, Office] = field(repr=False)
    published: PublishedContent = field(default_factory=PublishedContent, repr=False)
    """Answers and announcements published from `/ops`, over the YAML (mutable, live)."""

    @classmethod
    def build(cls, national: NationalConfig, offices: list[Office]) -> OfficeRegistry:
        """Index offices; duplicate codes or numbers are configuration errors."""
        by_code: dict[str, Office] = {}
        by_pnid: dict[str, Office] = {}
        by_display: dict[str, Office] = {}
        by_prefix: dict[str, Office] = {}  # a ticket names its office by this prefix
        for office in offices:
            for index, key, what in (
                (by_code, office.code, "code"),
                (by_pnid, office.whatsapp.phone_number_id, "whatsapp.phone_number_id"),
                (by_display, office.whatsapp.display_number, "whatsapp.display_number"),
                (by_prefix, office.ticket_prefix, "ticket_prefix"),
            ):
                if key in index:
                    raise OfficeConfigError(
                        f"offices {index[key].code!r} and {office.code!r} share {what} {key!r}; "
                        "each office needs its own"
                    )
                index[key] = office
        return cls(national, by_code, by_pnid, by_display)

    def __iter__(self) -> Iterator[Office]:
        return iter(self.offices.values())

    def __len__(self) -> int:
        return len(self.offices)

    def get(self, code: str) -> Office:
        """The office with this code, or `UnknownOffice`."""
        try:
            return self.offices[code]
        except KeyError:
            raise UnknownOffice(f"no office with code {code!r}") from None

    def by_phone_number_id(self, phone_number_id: str) -> Office:
        """The office that owns a WhatsApp phone_number_id, or `UnknownOffice`."""
        try:
            return self._by_phone_number_id[phone_number_id]
        except KeyError:
            raise UnknownOffice(f"no office has phone_number_id {phone_number_id!r}") from None

    def by_display_number(self, number: str) -> Office | None:
        """The office whose WhatsApp number this is (any format), or None."""
        digits = normalize_msisdn(number)
        return self._by_display_number.get(digits) if digits else None

    def faq_answer(self, office: Office, topic: str) -> FaqAnswer | None:
        """The office's answer for a topic: its override, else the national default. At each
        level what staff published (`published`) wins over the YAML baseline."""
        return (
            self.published.answer(office.code, topic)
            or office.faq.get(topic)
            or self.published.answer(NATIONAL_SCOPE, topic)
            or self.national.faq.get(topic)
        )

    def catalogue_text(self, office: Office, text_id: str) -> LocalizedText | CatalogueText | None:
        """A catalogue text at `office`, looked up as `faq_answer` does: the office's published
        text, its YAML override, the national published text, the national YAML."""
        published = self.published.answer(office.code, text_id)
        if published is not None:
            return published.text
        own = office.texts.get(text_id)
        if own is not None:
            return own
        published = self.published.answer(NATIONAL_SCOPE, text_id)
        if published is not None:
            return published.text
        return self.national.texts.get(text_id)

    def baseline_text(self, scope: str, text_id: str) -> CatalogueText | None:
        """The YAML catalogue text of a scope (an office code or `NATIONAL_SCOPE`)."""
        if scope == NATIONAL_SCOPE:
            return self.national.texts.get(text_id)
        return self.get(scope).texts.get(text_id)

    def baseline_answer(self, scope: str, topic: str) -> FaqAnswer | None:
        """The YAML answer of a scope (an office code or `NATIONAL_SCOPE`), nothing published."""
        if scope == NATIONAL_SCOPE:
            return self.national.faq.get(topic)
        return self.get(scope).faq.get(topic)


# libyaml's safe loader when PyYAML has it (8x faster: 151 offices load in ≈40 ms, not 300).
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _format_error(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: invalid office data ({error.error_count()} problem(s))"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  - field {where}: {item['msg']}")
    lines.append("  Fix the file and start again; see offices/README.md for the format.")
    return "\n".join(lines)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            content = yaml.load(handle, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except FileNotFoundError:
        raise OfficeConfigError(f"{path}: file is missing") from None
    except yaml.YAMLError as exc:
        raise OfficeConfigError(f"{path}: not valid YAML: {exc}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise OfficeConfigError(f"{path}: expected a mapping at the top level")
    return content


def _load_optional(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    return _read_yaml(path)


def load_office(folder: Path) -> Office:
    """Load and validate one office folder."""
    path = folder / "office.yaml"
    data = _read_yaml(path)
    faq_path = folder / "faq.yaml"
    faq = _load_optional(faq_path)
    if faq:
        data["faq"] = faq
    texts_path = folder / "texts.yaml"
    texts = _load_optional(texts_path)
    if texts:
        data["texts"] = texts
    if data.get("code") != folder.name:
        raise OfficeConfigError(
            f"{path}: field code: is {data.get('code')!r} but the folder is {folder.name!r}; "
            "they must be the same"
        )
    try:
        return Office.model_validate(data)
    except ValidationError as exc:
        shown = path
        for name, extra, file in (("faq", faq, faq_path), ("texts", texts, texts_path)):
            if extra and any(e["loc"][:1] == (name,) for e in exc.errors()):
                shown = file
        raise OfficeConfigError(_format_error(shown, exc)) from None


def load_registry(root: Path | str) -> OfficeRegistry:
    """Load `offices/`: national defaults and every office folder. Raises `OfficeConfigError`."""
    root = Path(root)
    if not root.is_dir():
        raise OfficeConfigError(f"{root}: offices folder not found (set GERBANG_OFFICES_DIR)")
    national_dir = root / "_national"
    national_data = _read_yaml(national_dir / "national.yaml")
    faq = _load_optional(national_dir / "faq.yaml")
    if faq:
        national_data["faq"] = faq
    texts = _load_optional(national_dir / "texts.yaml")
    if texts:
        national_data["texts"] = texts
    try:
        national = NationalConfig.model_validate(national_data)
    except ValidationError as exc:
        shown = national_dir / "national.yaml"
        if any(e["loc"][:1] == ("texts",) for e in exc.errors()):
            shown = national_dir / "texts.yaml"
        raise OfficeConfigError(_format_error(shown, exc)) from None
    offices = [
        load_office(folder)
        for folder in sorted(root.iterdir())
        if folder.is_dir() and not folder.name.startswith(("_", "."))
    ]
    if not offices:
        raise OfficeConfigError(f"{root}: no office folders found")
    return OfficeRegistry.build(national, offices)


def default_offices_dir() -> Path:
    """`GERBANG_OFFICES_DIR`, else the repository's `offices/` folder."""
    env = os.environ.get("GERBANG_OFFICES_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "offices"
        if (candidate / "_national").is_dir():
            return candidate
    return Path("offices")


# --- secrets ------------------------------------------------------------------------------

DEV_SECRET = "gerbang-dev-secret"  # noqa: S105 - the documented development-only secret
_SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


class MissingSecret(OfficeConfigError):
    """A secret an office needs is not in the environment (production refuses to start)."""


def secret_env_name(office_code: str, name: str) -> str:
    """Environment variable holding an office secret: GERBANG_<CODE>_<NAME>."""
    if not _SECRET_NAME.match(name):
        raise ValueError(f"bad secret name {name!r}")
    return f"GERBANG_{office_code.upper()}_{name}"


def office_secret(
    office_code: str,
    name: str,
    *,
    development: bool,
    environ: Mapping[str, str] | None = None,
    dev_default: str | None = None,
) -> str:
    """An office secret (APP_SECRET, ACCESS_TOKEN …) from `GERBANG_<CODE>_<NAME>`.

    In development a missing secret is `dev_default`, or the documented `DEV_SECRET`, so a
    fresh clone runs; in production a missing secret, or a development value, is refused.
    """
    env = os.environ if environ is None else environ
    var = secret_env_name(office_code, name)
    fallback = dev_default or DEV_SECRET
    value = env.get(var)
    if value:
        if not development and value in (DEV_SECRET, fallback):
            raise MissingSecret(f"{var} is a development value; set a real one in production")
        return value
    if development:
        return fallback
    raise MissingSecret(f"{var} is not set: office {office_code!r} needs its {name} in production")


def dev_token(office_code: str, name: str) -> str:
    """The documented development token of an office, e.g. `dev-jakpus-ops-token`."""
    return f"dev-{office_code}-{name.lower().replace('_', '-')}"


def office_token_sha256(
    office_code: str,
    name: str,
    *,
    development: bool,
    environ: Mapping[str, str] | None = None,
) -> str:
    """SHA-256 of an office's API/ops token, the only form services keep.

    Read from `GERBANG_<CODE>_<NAME>_SHA256` (preferred: the token itself never reaches
    the server's environment), else hashed from `GERBANG_<CODE>_<NAME>`, else, in
    development only, from `dev_token(code, name)`.
    """
    env = os.environ if environ is None else environ
    hashed = env.get(secret_env_name(office_code, f"{name}_SHA256"))
    if hashed:
        if not re.fullmatch(r"[0-9a-f]{64}", hashed):
            raise OfficeConfigError(
                f"{secret_env_name(office_code, name + '_SHA256')} must be 64 lowercase hex digits"
            )
        return hashed
    token = office_secret(
        office_code,
        name,
        development=development,
        environ=env,
        dev_default=dev_token(office_code, name),
    )
    return hash_token(token)


def hash_token(token: str) -> str:
    """SHA-256 hex of an API or ops token; what we keep and compare instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, expected_sha256: str) -> bool:
    """Constant-time check of a presented token against a stored SHA-256."""
    return hmac.compare_digest(hash_token(token), expected_sha256)
