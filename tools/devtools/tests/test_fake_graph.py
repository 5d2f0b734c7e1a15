"""The fake Graph API in-process (ASGI): Meta's limits, recording, failure rules, the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from fastapi.testclient import TestClient

from gerbang_devtools.fake_graph import (
    FailureRule,
    StatusWebhooks,
    create_app,
    is_loopback,
    main,
)

URL = "/v25.0/100000000000001/messages"
AUTH = {"Authorization": "Bearer dev-token"}


def text(body: str = "Halo") -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+6281234567890",
        "type": "text",
        "text": {"preview_url": False, "body": body},
    }


def a_list() -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+6281234567890",
        "type": "interactive",
        "interactive": {
            "type": "list",
            "header": {"type": "text", "text": "Layanan Paspor"},
            "body": {"text": "Silakan pilih topik:"},
            "footer": {"text": "Info resmi"},
            "action": {
                "button": "Pilih topik",
                "sections": [
                    {
                        "title": "Permohonan",
                        "rows": [
                            {
                                "id": "req_new",
                                "title": "Syarat paspor baru",
                                "description": "Dewasa",
                            },
                            {"id": "fee", "title": "Biaya paspor"},
                        ],
                    }
                ],
            },
        },
    }


def buttons() -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+6281234567890",
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Membantu?"},
            "footer": {"text": "SIGAP"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Ya"}},
                    {"type": "reply", "reply": {"id": "no", "title": "Tidak"}},
                ]
            },
        },
    }


def template() -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+6281234567890",
        "type": "template",
        "template": {"name": "halo_kembali", "language": {"code": "id"}},
    }


def rows(n: int, prefix: str = "row") -> list[dict[str, str]]:
    return [{"id": f"{prefix}{i}", "title": f"Baris {i}"} for i in range(n)]


def reply_buttons(n: int) -> list[dict[str, Any]]:
    return [{"type": "reply", "reply": {"id": f"b{i}", "title": f"Tombol {i}"}} for i in range(n)]


def edit(base: Callable[[], dict[str, Any]], *path: Any, value: Any) -> dict[str, Any]:
    """`base()` with the value at `path` replaced (or deleted when value is DELETE)."""
    payload = copy.deepcopy(base())
    target = payload
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


DELETE = object()
LIST = ("interactive",)
ACTION = ("interactive", "action")

# Every limit of reference §1.5, violated once.
# Every limit of reference §1.5, violated once: (case, payload, a fragment of the details).
INVALID: list[tuple[str, dict[str, Any], str]] = [
    (
        "messaging_product missing",
        edit(text, "messaging_product", value=DELETE),
        "messaging_product",
    ),
    ("messaging_product wrong", edit(text, "messaging_product", value="sms"), "messaging_product"),
    ("to missing", edit(text, "to", value=DELETE), "to is required"),
    ("to empty", edit(text, "to", value=""), "to is required"),
    ("type unsupported", edit(text, "type", value="sticker"), "sticker"),
    ("text body empty", edit(text, "text", "body", value=""), "text.body is required"),
    ("text body 4097", edit(text, "text", "body", value="a" * 4097), "text.body is too long"),
    ("text body missing", edit(text, "text", value={}), "text.body"),
    (
        "list button 21",
        edit(a_list, *ACTION, "button", value="b" * 21),
        "action.button is too long",
    ),
    ("list button missing", edit(a_list, *ACTION, "button", value=DELETE), "action.button"),
    ("list header 61", edit(a_list, *LIST, "header", "text", value="h" * 61), "header.text is too"),
    ("list body 4097", edit(a_list, *LIST, "body", "text", value="b" * 4097), "body.text is too"),
    ("list footer 61", edit(a_list, *LIST, "footer", "text", value="f" * 61), "footer.text is too"),
    ("list no sections", edit(a_list, *ACTION, "sections", value=[]), "1 to 10 sections"),
    (
        "list 11 sections",
        edit(
            a_list,
            *ACTION,
            "sections",
            value=[{"title": f"S{i}", "rows": rows(1, f"s{i}")} for i in range(11)],
        ),
        "1 to 10 sections",
    ),
    (
        "section title 25",
        edit(a_list, *ACTION, "sections", 0, "title", value="s" * 25),
        "title is too",
    ),
    (
        "section without rows",
        edit(a_list, *ACTION, "sections", 0, "rows", value=[]),
        "at least 1 row",
    ),
    (
        "11 rows in one section",
        edit(a_list, *ACTION, "sections", 0, "rows", value=rows(11)),
        "row count",
    ),
    (
        "11 rows across sections",
        edit(
            a_list,
            *ACTION,
            "sections",
            value=[{"title": "A", "rows": rows(6, "a")}, {"title": "B", "rows": rows(5, "b")}],
        ),
        "row count",
    ),
    (
        "row ids not unique",
        edit(a_list, *ACTION, "sections", 0, "rows", value=rows(2, "x") * 2),
        "not unique",
    ),
    (
        "row id 201",
        edit(a_list, *ACTION, "sections", 0, "rows", 0, "id", value="r" * 201),
        "id is too long",
    ),
    (
        "row title 25",
        edit(a_list, *ACTION, "sections", 0, "rows", 0, "title", value="t" * 25),
        "title is too",
    ),
    (
        "row description 73",
        edit(a_list, *ACTION, "sections", 0, "rows", 0, "description", value="d" * 73),
        "description is too",
    ),
    ("buttons none", edit(buttons, *ACTION, "buttons", value=[]), "1 to 3 buttons"),
    ("buttons four", edit(buttons, *ACTION, "buttons", value=reply_buttons(4)), "1 to 3 buttons"),
    (
        "buttons body 1025",
        edit(buttons, *LIST, "body", "text", value="b" * 1025),
        "body.text is too",
    ),
    (
        "buttons footer 61",
        edit(buttons, *LIST, "footer", "text", value="f" * 61),
        "footer.text is too",
    ),
    (
        "button title 21",
        edit(buttons, *ACTION, "buttons", 0, "reply", "title", value="t" * 21),
        "title is too",
    ),
    (
        "button titles not unique",
        edit(buttons, *ACTION, "buttons", 1, "reply", "title", value="Ya"),
        "title 'Ya' is not unique",
    ),
    (
        "button id 257",
        edit(buttons, *ACTION, "buttons", 0, "reply", "id", value="i" * 257),
        "id is too long",
    ),
    (
        "interactive type unknown",
        edit(buttons, *LIST, "type", value="carousel"),
        "interactive.type",
    ),
    ("template without name", edit(template, "template", "name", value=DELETE), "template.name"),
    (
        "template without language",
        edit(template, "template", "language", value=DELETE),
        "template.language",
    ),
]


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(max_records=100)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("payload", "reason"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_each_limit_violated_is_refused_with_meta_error_100(
    client: TestClient, payload: dict[str, Any], reason: str
) -> None:
    response = client.post(URL, json=payload, headers=AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100
    assert error["type"] == "OAuthException"
    assert error["message"].startswith("(#100)")
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert reason in error["error_data"]["details"]
    assert error["fbtrace_id"]
    assert client.get("/__sent").json() == []


@pytest.mark.parametrize("make", [text, a_list, buttons, template])
def test_valid_send_is_accepted_and_recorded(client: TestClient, make: Callable[[], Any]) -> None:
    payload = make()
    response = client.post(URL, json=payload, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+6281234567890", "wa_id": "6281234567890"}]
    wamid = body["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    [record] = client.get("/__sent").json()
    assert record["payload"] == payload
    assert record["wamid"] == wamid
    assert record["phone_number_id"] == "100000000000001"
    assert record["to"] == "+6281234567890"
    assert record["received_at"].endswith("Z")
    assert isinstance(record["received_at_unix"], float)


def test_limits_at_their_maximum_are_accepted(client: TestClient) -> None:
    longest_rows = [{"id": f"x{i}", "title": "t" * 24, "description": "d" * 72} for i in range(5)]
    sections = [{"title": "s" * 24, "rows": rows(5)}, {"title": "u" * 24, "rows": longest_rows}]
    payload = edit(a_list, *ACTION, "sections", value=sections)
    assert client.post(URL, json=payload, headers=AUTH).status_code == 200
    three = edit(buttons, *ACTION, "buttons", value=reply_buttons(3))
    assert client.post(URL, json=three, headers=AUTH).status_code == 200


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"}]
)
def test_missing_token_is_refused_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(URL, json=text(), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 190


def test_wamids_are_unique_and_indexes_increase(client: TestClient) -> None:
    wamids = {
        client.post(URL, json=text(), headers=AUTH).json()["messages"][0]["id"] for _ in range(5)
    }
    assert len(wamids) == 5
    indexes = [r["index"] for r in client.get("/__sent").json()]
    assert indexes == sorted(indexes) and len(set(indexes)) == 5


def test_sent_filters_and_incremental_polling(client: TestClient) -> None:
    client.post(URL, json=text("a"), headers=AUTH)
    client.post("/v25.0/100000000000002/messages", json=text("b"), headers=AUTH)
    client.post(URL, json=edit(text, "to", value="+6289999999999"), headers=AUTH)
    all_sent = client.get("/__sent").json()
    assert [r["payload"].get("text", {}).get("body") for r in all_sent] == ["a", "b", "Halo"]
    assert len(client.get("/__sent", params={"phone_number_id": "100000000000002"}).json()) == 1
    # `to` matches on digits, whatever the format.
    assert len(client.get("/__sent", params={"to": "6289999999999"}).json()) == 1
    second = all_sent[1]["index"]
    assert [r["index"] for r in client.get("/__sent", params={"since": second}).json()] == [
        second, all_sent[2]["index"],
    ]  # fmt: skip
    assert client.get("/__sent", params={"since": all_sent[2]["index"] + 1}).json() == []


def test_clear_forgets_records_but_never_reuses_an_index(client: TestClient) -> None:
    client.post(URL, json=text(), headers=AUTH)
    last = client.get("/__sent").json()[-1]["index"]
    assert client.delete("/__sent").status_code == 200
    assert client.get("/__sent").json() == []
    assert client.get("/__stats").json()["sent"] == 0
    client.post(URL, json=text(), headers=AUTH)
    assert client.get("/__sent").json()[0]["index"] > last


def test_records_are_bounded(client: TestClient) -> None:
    for _ in range(105):
        client.post(URL, json=text(), headers=AUTH)
    stats = client.get("/__stats").json()
    assert stats["sent"] == 105
    assert stats["records"] == 100
    assert len(client.get("/__sent").json()) == 100


def test_read_receipt_and_typing_indicator_are_recorded_apart(client: TestClient) -> None:
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"}
    typing = read | {"message_id": "wamid.IN2", "typing_indicator": {"type": "text"}}
    for body in (read, typing):
        response = client.post(URL, json=body, headers=AUTH)
        assert response.status_code == 200
        assert response.json() == {"success": True}
    assert client.get("/__sent").json() == []
    reads = client.get("/__reads").json()
    assert [(r["message_id"], r["typing"]) for r in reads] == [
        ("wamid.IN1", False),
        ("wamid.IN2", True),
    ]
    assert client.get("/__stats").json()["reads"] == 2
    bad = client.post(URL, json=read | {"message_id": ""}, headers=AUTH)
    assert bad.status_code == 400


def test_count_rule_fails_n_matching_sends_then_lets_them_pass(client: TestClient) -> None:
    client.post("/__fail", json={"code": 130429, "count": 2, "retry_after": 3})
    statuses = []
    for _ in range(3):
        response = client.post(URL, json=text(), headers=AUTH)
        statuses.append(response.status_code)
        if response.status_code != 200:
            assert response.json()["error"]["code"] == 130429
            assert response.headers["retry-after"] == "3"
    assert statuses == [400, 400, 200]
    stats = client.get("/__stats").json()
    assert (stats["sent"], stats["failed"], stats["by_code"]) == (1, 2, {"130429": 2})
    assert client.get("/__fail").json() == []


def test_rules_filter_by_number_and_citizen(client: TestClient) -> None:
    client.post("/__fail", json={"code": 131056, "count": 5, "to": "6289999999999"})
    client.post("/__fail", json={"code": 2, "count": 5, "phone_number_id": "100000000000002"})
    assert client.post(URL, json=text(), headers=AUTH).status_code == 200
    pair = client.post(URL, json=edit(text, "to", value="+6289999999999"), headers=AUTH)
    assert (pair.status_code, pair.json()["error"]["code"]) == (400, 131056)
    other = client.post("/v25.0/100000000000002/messages", json=text(), headers=AUTH)
    assert (other.status_code, other.json()["error"]["code"]) == (503, 2)


def test_re_engagement_rule_fails_free_form_but_passes_templates(client: TestClient) -> None:
    client.post("/__fail", json={"code": 131047, "count": 1})
    assert client.post(URL, json=template(), headers=AUTH).status_code == 200
    refused = client.post(URL, json=buttons(), headers=AUTH)
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, 131047)
    assert client.post(URL, json=text(), headers=AUTH).status_code == 200  # count used up


def test_rule_without_count_fails_once_and_seconds_rule_fails_all(client: TestClient) -> None:
    client.post("/__fail", json={"code": 131000})
    assert client.post(URL, json=text(), headers=AUTH).status_code == 500
    assert client.post(URL, json=text(), headers=AUTH).status_code == 200
    client.post("/__fail", json={"code": 130429, "http_status": 429, "seconds": 60})
    assert [client.post(URL, json=text(), headers=AUTH).status_code for _ in range(4)] == [429] * 4
    assert client.delete("/__fail").status_code == 200
    assert client.post(URL, json=text(), headers=AUTH).status_code == 200


def test_rules_queue_in_order(client: TestClient) -> None:
    client.post("/__fail", json={"code": 131000, "count": 1})
    client.post("/__fail", json={"code": 130429, "count": 1})
    codes = [
        client.post(URL, json=text(), headers=AUTH).json().get("error", {}).get("code")
        for _ in range(3)
    ]
    assert codes == [131000, 130429, None]


def test_code_null_answers_an_html_page(client: TestClient) -> None:
    client.post("/__fail", json={"code": None, "http_status": 502})
    response = client.post(URL, json=text(), headers=AUTH)
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<html>" in response.text


def test_invalid_rule_is_refused(client: TestClient) -> None:
    assert client.post("/__fail", json={"code": 130429, "count": 0}).status_code == 422
    assert client.post("/__fail", json={"code": 130429, "colour": "red"}).status_code == 422


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 - not binding, checking the refusal
        ("192.168.1.10", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_main_refuses_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0", "--port", "0"]) == 2  # noqa: S104
    assert "--allow-remote" in capsys.readouterr().err


# --- status webhooks back to the gateway, as Meta posts them ------------------------------


class _Receiver:
    """A real HTTP server standing in for the gateway's webhook endpoint."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = answers  # status codes to answer in turn; then 200
        self.bodies: list[tuple[bytes, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append((await request.read(), request.headers["X-Hub-Signature-256"]))
        return web.Response(status=self.answers.pop(0) if self.answers else 200)


@contextlib.asynccontextmanager
async def receiver(answers: list[int]) -> AsyncIterator[tuple[_Receiver, str]]:
    target = _Receiver(answers)
    app = web.Application()
    app.router.add_post("/webhook/whatsapp", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield target, f"http://127.0.0.1:{port}/webhook/whatsapp"
    finally:
        await runner.cleanup()


async def _send(app: Any, payload: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as http:
        return await http.post(URL, json=payload, headers=AUTH)


async def _wait(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_accepted_send_gets_a_signed_status_webhook_with_its_callback_data() -> None:
    # The first post is refused (503): it is retried, as Meta redelivers.
    async with receiver([503]) as (target, url):
        app = create_app(webhooks=StatusWebhooks(url=url, delay_ms=50), app_secret="s3cret")
        payload = text() | {"biz_opaque_callback_data": "reply:wamid.X:1"}
        wamid = (await _send(app, payload)).json()["messages"][0]["id"]
        await _wait(lambda: len(target.bodies) >= 2)
    body, signature = target.bodies[-1]
    assert signature == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    value = json.loads(body)["entry"][0]["changes"][0]["value"]
    assert value["metadata"]["phone_number_id"] == "100000000000001"
    [status] = value["statuses"]
    assert status["id"] == wamid
    assert status["status"] == "sent"
    assert status["recipient_id"] == "6281234567890"
    assert status["biz_opaque_callback_data"] == "reply:wamid.X:1"
    stats = app.state.graph.counts
    assert (stats["webhook_posts"], stats["webhook_post_failures"]) == (1, 1)


async def test_dropped_status_webhooks_never_arrive() -> None:
    async with receiver([]) as (target, url):
        app = create_app(webhooks=StatusWebhooks(url=url, delay_ms=0, drop=True))
        assert (await _send(app, text())).status_code == 200
        await asyncio.sleep(0.3)
    assert target.bodies == []
    assert app.state.graph.counts["webhook_statuses_dropped"] == 1


async def test_accept_then_fail_and_hold_record_the_send_and_post_its_status() -> None:
    async with receiver([]) as (target, url):
        app = create_app(webhooks=StatusWebhooks(url=url, delay_ms=0))
        state = app.state.graph
        state.add_rule(FailureRule(code=131000, mode="accept_then_fail"))
        failed = await _send(app, text("a"))
        assert failed.status_code == 500  # the sender sees an error ...
        assert len(state.sent) == 1  # ... yet Meta has the message
        state.add_rule(FailureRule(mode="hold", hold_s=0.5))
        started = time.monotonic()
        held = await _send(app, text("b"))
        assert held.status_code == 200
        assert time.monotonic() - started >= 0.5
        await _wait(lambda: len(target.bodies) >= 1 and state.counts["webhook_statuses"] == 2)
    assert len(state.sent) == 2
