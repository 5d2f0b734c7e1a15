"""Talking to a running stack's /ops like office staff would: sign in, read the inbox."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from deploy.local.stack import Stack
from gerbang_gateway.ops.staff import DEV_STAFF_PASSWORD
from tests.support.whatsapp import citizen, office, post, signed_text, text_of, wait_replies

HELD = "Pesan Anda sudah diteruskan ke petugas"


def staff(stack: Stack, username: str) -> httpx.Client:
    """A signed-in /ops client of a development staff account."""
    http = httpx.Client(base_url=stack.api_url, timeout=20)
    form = http.get("/ops/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    signed = http.post(
        "/ops/login",
        data={"username": username, "password": DEV_STAFF_PASSWORD, "csrf": token.group(1)},
    )
    assert signed.status_code == 303, signed.text
    return http


def csrf(http: httpx.Client, path: str) -> str:
    page = http.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def hold(stack: Stack, code: str = "jakpus") -> str:
    """A citizen who asked for a person and got the one 'forwarded' answer."""
    wa_id = citizen()
    assert (
        post(stack, *signed_text(code, wa_id, "saya mau bicara dengan petugas")).status_code == 200
    )
    [notice] = wait_replies(stack, wa_id, 1)
    assert text_of(notice).startswith(HELD), text_of(notice)
    assert notice["phone_number_id"] == office(code).whatsapp.phone_number_id
    return wa_id


def waiting(http: httpx.Client, code: str) -> list[dict[str, Any]]:
    response = http.get(f"/ops/o/{code}/inbox.json")
    assert response.status_code == 200, response.text
    return list(response.json()["rows"])


def conv_of(http: httpx.Client, code: str, wa_id: str, timeout: float = 20) -> str:
    """The inbox id of a waiting conversation (the list shows the number masked)."""
    masked = wa_id[:2] + "*" * (len(wa_id) - 5) + wa_id[-3:]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in waiting(http, code):
            if row["phone"] == masked:
                return str(row["conv"])
        time.sleep(0.3)
    raise AssertionError(f"{masked} never appeared in {code}'s inbox")


def live(http: httpx.Client, code: str, conv: str) -> dict[str, Any]:
    response = http.get(f"/ops/o/{code}/inbox/{conv}/live")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_transcript(
    http: httpx.Client, code: str, conv: str, texts: list[str], timeout: float = 20
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        entries = live(http, code, conv)["entries"]
        bodies = [e["text"] for e in entries]
        if all(t in bodies for t in texts) or time.monotonic() > deadline:
            return list(entries)
        time.sleep(0.3)
