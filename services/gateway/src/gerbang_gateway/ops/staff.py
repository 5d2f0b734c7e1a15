"""Named staff accounts for `/ops`: who they are, which office, which role, their password.

Accounts live in a staff file (YAML, `GERBANG_STAFF_FILE`): one entry per person with an
argon2id hash of the password, never the password. Production creates the file with
`python -m gerbang_gateway staff add --file <path> --username jakpus.rina --office jakpus
--role agent --name "Rina"` (asks for the password twice) and points `GERBANG_STAFF_FILE`
at it. Development, with no file set, reads the committed seed `staff.dev.yaml` beside this
module: every account there has the documented development password
`DEV_STAFF_PASSWORD`; production refuses that seed.

Roles:
    agent        one office: inbox (claim, reply, close), feedback, overview
    office_lead  the same, plus the office's audit log and sign-in counts
    national     every office, the sum of all, every audit log
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

NATIONAL = "*"
DEV_STAFF_FILE = Path(__file__).with_name("staff.dev.yaml")
DEV_STAFF_PASSWORD = "gerbang-dev-staff"  # noqa: S105 - documented development-only password

# argon2id with OWASP's minimum recommended parameters (19 MiB, 2 passes, 1 lane): a
# sign-in costs tens of milliseconds of one core instead of argon2-cffi's default 64 MiB × 4
# lanes, which on a small shared host took over a second per attempt.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH = HASHER.hash("not-a-real-password")


class StaffFileError(Exception):
    """The staff file is missing, unreadable or invalid (message names the file and field)."""


class Role(StrEnum):
    """What a staff member may do."""

    AGENT = "agent"
    OFFICE_LEAD = "office_lead"
    NATIONAL = "national"


class StaffAccount(BaseModel):
    """One person who signs in to `/ops`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")
    name: str = Field(min_length=1, max_length=100, description="Shown in the audit log")
    office: str = Field(description="Office code, or '*' for national staff")
    role: Role
    password_hash: str = Field(pattern=r"^\$argon2id\$", description="argon2id hash")

    @model_validator(mode="after")
    def _national_is_national(self) -> StaffAccount:
        if (self.role is Role.NATIONAL) != (self.office == NATIONAL):
            raise ValueError("role 'national' goes with office '*', and only it")
        return self


class StaffFile(BaseModel):
    """The staff file's shape."""

    model_config = ConfigDict(extra="forbid")

    accounts: list[StaffAccount] = Field(default_factory=list)


class StaffDirectory:
    """Every account, by username."""

    def __init__(self, accounts: list[StaffAccount]) -> None:
        self.accounts = {account.username: account for account in accounts}

    def __iter__(self) -> Iterator[StaffAccount]:
        return iter(self.accounts.values())

    def get(self, username: str) -> StaffAccount | None:
        """The account, or None."""
        return self.accounts.get(username)

    def authenticate(self, username: str, password: str) -> StaffAccount | None:
        """The account if the password is right. Slow on purpose (argon2), and as slow for
        an unknown username (a dummy hash is checked) so timing does not reveal names."""
        account = self.accounts.get(username)
        try:
            HASHER.verify(account.password_hash if account else _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return account


def read_staff_file(path: Path) -> StaffFile:
    """Parse and validate a staff file (`StaffFileError` names the file and the field)."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    except (OSError, yaml.YAMLError) as exc:
        raise StaffFileError(f"{path}: cannot read the staff file: {exc}") from exc
    if raw is None:
        return StaffFile()
    try:
        return StaffFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise StaffFileError(f"{path}: {problems}") from exc


def load_staff(path: Path | None, offices: set[str], *, development: bool) -> StaffDirectory:
    """The accounts of the deployment. `path` None: the development seed (development only)."""
    if path is None:
        if not development:
            raise StaffFileError("GERBANG_STAFF_FILE is not set: production needs staff accounts")
        # The development seed serves whichever offices run (`bench/run.py --offices jakpus`):
        # its accounts of offices not loaded are left out, not an error.
        seed = read_staff_file(DEV_STAFF_FILE)
        return StaffDirectory(
            [a for a in seed.accounts if a.office == NATIONAL or a.office in offices]
        )
    if not development and path.resolve() == DEV_STAFF_FILE.resolve():
        raise StaffFileError(f"{path} is the development seed; production needs real accounts")
    if not path.exists():
        raise StaffFileError(f"{path}: no such staff file (create it with `staff add`)")
    staff = read_staff_file(path)
    for index, account in enumerate(staff.accounts):
        if account.office != NATIONAL and account.office not in offices:
            raise StaffFileError(
                f"{path}: accounts.{index}.office: unknown office {account.office!r} "
                f"(known: {', '.join(sorted(offices))})"
            )
    return StaffDirectory(staff.accounts)


def add_account(path: Path, account: StaffAccount) -> None:
    """Add (or replace) an account in a staff file, creating the file if needed."""
    staff = read_staff_file(path)
    kept = [a for a in staff.accounts if a.username != account.username]
    data = StaffFile(accounts=[*kept, account]).model_dump(mode="json")
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def staff_main(argv: list[str]) -> int:
    """`python -m gerbang_gateway staff add|list …`: manage the staff file."""
    parser = argparse.ArgumentParser(prog="gerbang_gateway staff", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add or replace an account (asks for the password)")
    add.add_argument("--file", type=Path, required=True)
    add.add_argument("--username", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--office", required=True, help="office code, or '*' for national")
    add.add_argument("--role", choices=[r.value for r in Role], required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    listing = sub.add_parser("list", help="list the accounts (no hashes)")
    listing.add_argument("--file", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "list":
        for account in read_staff_file(args.file).accounts:
            print(f"{account.username}\t{account.office}\t{account.role.value}\t{account.name}")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 2
    if len(password) < 12:
        print("a password needs at least 12 characters", file=sys.stderr)
        return 2
    try:
        account = StaffAccount(
            username=args.username,
            name=args.name,
            office=args.office,
            role=Role(args.role),
            password_hash=HASHER.hash(password),
        )
    except ValidationError as exc:
        print(f"invalid account: {exc}", file=sys.stderr)
        return 2
    add_account(args.file, account)
    print(f"{account.username} ({account.role.value}, {account.office}) saved in {args.file}")
    return 0
