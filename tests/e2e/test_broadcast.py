"""A broadcast to 500 subscribers of two offices, through the real pipeline.

Real processes (fake Graph API posting signed status webhooks back like Meta, gateway api with
/ops, router, sender with its broadcaster) on real Kafka and Redis. The offices are the
repository's, with the two numbers' throughput lowered (Jakarta Pusat 25/s, Bogor 40/s) and
the broadcast allowed the whole of it, so the pacing shows in seconds and the test stays short.

Subscriptions are seeded on `announcements.subscriptions` (the source of truth; Redis starts
empty, so the broadcaster first rebuilds its view from the topic), and made in conversation:
"langganan info" → the question → *ya* typed or the button tapped; "STOP!!" before, and
"berhenti langganan" during the broadcast. The sender is killed (SIGKILL, by pid) mid-way and
restarted. Then, from the fake Graph API's records: every subscriber got exactly one
announcement, nobody who opted out got one, each office's sends stayed within its throughput;
and the /ops report counts what Meta's status webhooks said.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from deploy.local.stack import Stack
from tests.e2e.conftest import REPO, start_stack, stop_stack
from tests.support.broadcast import announcement, produce, subscription
from tests.support.ops import csrf, staff
from tests.support.whatsapp import office, post, signed_tap, signed_text, text_of, wait_replies

pytestmark = pytest.mark.e2e
CAPS = {"jakpus": 25, "bogor": 40}
PER_OFFICE = 250
TEMPLATE = "pengumuman_kantor"


def _offices_with_caps(root: Path) -> Path:
    """A copy of offices/ with the two numbers' throughput lowered."""
    target = root / "offices"
    for source in (REPO / "offices").rglob("*"):
        if source.is_file():
            dest = target / source.relative_to(REPO / "offices")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(source.read_bytes())
    for code, cap in CAPS.items():
        path = target / code / "office.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["whatsapp"]["throughput_mps"] = cap
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    offices = _offices_with_caps(tmp_path_factory.mktemp("broadcast"))
    running = start_stack(
        kafka_bootstrap,
        only={"fake-graph", "api", "router", "sender"},
        GERBANG_OFFICES_DIR=str(offices),
        GERBANG_BROADCAST_SHARE="1.0",
        GERBANG_BROADCAST_POLL_S="0.3",
        GERBANG_GRAPH_TIMEOUT_S="2",
        GERBANG_SEND_STATUS_WAIT_S="3",
    )
    try:
        yield running
    finally:
        stop_stack(running)


def _templates(stack: Stack) -> list[dict[str, Any]]:
    sent = httpx.get(f"{stack.graph_url}/__sent", timeout=30).json()
    return [r for r in sent if r["payload"].get("template", {}).get("name") == TEMPLATE]


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


_LEADS: dict[tuple[str, str], httpx.Client] = {}


def _lead(stack: Stack, code: str) -> httpx.Client:
    key = (stack.api_url, code)
    if key not in _LEADS:
        _LEADS[key] = staff(stack, f"{code}.lead")
    return _LEADS[key]


def _start(stack: Stack, code: str, subscribers: int) -> str:
    """Start `code`'s broadcast once /ops shows the announcement and every subscriber (the
    senders follow the subscriptions topic into Redis within a moment)."""
    lead = _lead(stack, code)
    deadline = time.monotonic() + 30
    while True:
        page = lead.get(f"/ops/o/{code}/broadcasts").text
        count = re.search(r"data-subscribers>(\d+)<", page)
        if (count and int(count.group(1)) == subscribers and "start-broadcast" in page) or (
            time.monotonic() > deadline
        ):
            break
        time.sleep(0.3)
    started = lead.post(f"/ops/o/{code}/broadcasts", data={"csrf": csrf(lead, f"/ops/o/{code}")})
    assert started.status_code == 303, started.text
    found = re.search(r"started=([\w-]+)", started.headers["location"])
    assert found
    return found.group(1)


def _report(stack: Stack, code: str, broadcast_id: str) -> dict[str, Any]:
    response = _lead(stack, code).get(f"/ops/o/{code}/broadcasts/{broadcast_id}.json")
    assert response.status_code == 200, response.text
    return dict(response.json())


def busiest_seconds(times: list[float]) -> list[tuple[int, int]]:
    """Sends per clock second at the Graph API, busiest first. The number's limiter promises at
    most its cap in each (one-second windows per number, a send only inside its own window);
    not a sliding second: `cap` sends at the end of one window and `cap` at the start of the
    next are within the throughput."""
    return Counter(int(t) for t in times).most_common()


STAMP_LAG_S = 0.3
"""How late the fake Graph API may stamp a send: it stamps when its own event loop gets to the
request, which on a machine loaded to 6–8 on two cores lags the send by up to a few hundred
ms (a send that left at the end of its window was once stamped in the next: 41 of 40)."""


def fits_the_cap(times: list[float], cap: int, lag: float = STAMP_LAG_S) -> bool:
    """Whether the sends, stamped at `times`, can have left at most `cap` per clock second,
    each at most `lag` before its stamp: a send stamped early in a second counts for the
    previous one if that one had room. A limiter that overbooks a window does not fit (its
    neighbours are full too); exact per-second counts are the case `lag` = 0."""
    used: Counter[int] = Counter()
    for stamp in sorted(times):
        second = int(stamp)
        if stamp - second < lag and used[second - 1] < cap:
            used[second - 1] += 1
        elif used[second] < cap:
            used[second] += 1
        else:
            return False
    return True


def test_fits_the_cap_tells_a_late_stamp_from_an_overbooked_window() -> None:
    assert fits_the_cap([10.1, 10.2, 11.1, 11.2], 2, lag=0)
    assert not fits_the_cap([10.1, 10.2, 10.3], 2, lag=0)
    late = [10.1, 10.9, 11.05, 11.5, 11.6]  # one of 10's stamped at 11.05
    assert fits_the_cap(late, 2) and not fits_the_cap(late, 2, lag=0)
    assert not fits_the_cap([10.1, 10.9, 11.05, 11.5, 11.6, 11.7], 2)  # 11 overbooked


def test_broadcast_reaches_each_subscriber_once_within_throughput_across_a_sender_restart(
    stack: Stack,
) -> None:
    httpx.put(
        f"{stack.graph_url}/__webhooks",
        json={
            "url": f"{stack.api_url}/webhook/whatsapp",
            "delay_ms": 200,
            "statuses": ["sent", "delivered"],
        },
        timeout=10,
    ).raise_for_status()
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    # Seeded subscribers: numbers sort in audience order, so the mid-way opt-outs come last.
    seeded = {
        code: [f"628{prefix}{n:07d}" for n in range(count)]
        for code, prefix, count in (("jakpus", "11", PER_OFFICE), ("bogor", "22", PER_OFFICE - 1))
    }
    stopped_before = seeded["jakpus"][5]
    stopping_mid = seeded["jakpus"][-2:]
    opted_out = {
        code: [f"628{p}9{n:06d}" for n in range(10)]
        for code, p in (("jakpus", "33"), ("bogor", "44"))
    }
    produced = [
        announcement(
            code,
            f"Layanan paspor {code} tutup Jumat 5 Desember karena pemeliharaan sistem.",
            f"Passport service at {code} is closed on Friday 5 December for maintenance.",
        )
        for code in CAPS
    ]
    for code, numbers in seeded.items():
        produced += [subscription(code, wa_id, True, earlier) for wa_id in numbers]
    for code, numbers in opted_out.items():
        produced += [subscription(code, wa_id, True, earlier) for wa_id in numbers]
        produced += [
            subscription(code, wa_id, False, earlier + dt.timedelta(minutes=5)) for wa_id in numbers
        ]
    produce(stack, produced)

    # In conversation: one opts in by typing "ya", one by the button; one opts out first.
    typed, tapped = "6285700000001", "6285700000002"
    assert post(stack, *signed_text("jakpus", typed, "langganan info dong")).status_code == 200
    [question] = wait_replies(stack, typed, 1)
    assert "pengumuman resmi" in text_of(question) and "Ya, langganan" in text_of(question)
    assert post(stack, *signed_text("jakpus", typed, "iya")).status_code == 200
    assert post(stack, *signed_text("bogor", tapped, "subscribe")).status_code == 200
    wait_replies(stack, tapped, 1)
    tap = signed_tap("bogor", tapped, "subscribe|yes", "Ya, langganan", kind="button_reply")
    assert post(stack, *tap).status_code == 200
    assert post(stack, *signed_text("jakpus", stopped_before, "STOP!!")).status_code == 200
    confirmed = "Anda akan menerima pengumuman|You will receive announcements"
    for wa_id, text in ((typed, confirmed), (tapped, confirmed),
                        (stopped_before, "tidak akan menerima pengumuman")):  # fmt: skip
        last = text_of(wait_replies(stack, wa_id, 1 if wa_id == stopped_before else 2)[-1])
        assert re.search(text, last), last

    # An agent may not start one; leads start their office's.
    agent = staff(stack, "jakpus.agent")
    refused = agent.post("/ops/o/jakpus/broadcasts", data={"csrf": csrf(agent, "/ops/o/jakpus")})
    assert refused.status_code == 403 and "kepala kantor" in refused.text
    ids = {code: _start(stack, code, PER_OFFICE) for code in CAPS}
    # One office never sees another's broadcast.
    other = _lead(stack, "bogor").get(f"/ops/o/bogor/broadcasts/{ids['jakpus']}.json")
    assert other.status_code == 404

    # Mid-way: two late subscribers opt out, and the sender is killed and restarted.
    _wait(lambda: len(_templates(stack)) >= 120, 90, "the broadcast under way")
    for wa_id in stopping_mid:
        assert post(stack, *signed_text("jakpus", wa_id, "berhenti langganan")).status_code == 200
    for wa_id in stopping_mid:
        wait_replies(stack, wa_id, 1, settle=0)
    stack.kill_one("sender")
    spec = next(s for s in stack.specs() if s.name == "sender")
    stack.start_one(spec)
    stack.wait_ready(spec, time.monotonic() + 90)

    expected = {
        "jakpus": {*seeded["jakpus"], typed} - {stopped_before, *stopping_mid},
        "bogor": {*seeded["bogor"], tapped},
    }
    total = sum(len(v) for v in expected.values())
    _wait(lambda: len(_templates(stack)) >= total, 120, f"{total} announcements")
    for code, broadcast_id in ids.items():
        _wait(lambda c=code, b=broadcast_id: _report(stack, c, b)["state"] == "done", 60, "done")
    time.sleep(2 + 3 + 1)  # past the sender's bound for sends of unknown outcome: no late resend

    sends = _templates(stack)
    per_citizen = Counter(_digits(r["to"]) for r in sends)
    assert [n for n, c in per_citizen.items() if c > 1] == [], "someone got the announcement twice"
    for code in CAPS:
        number = office(code).whatsapp.phone_number_id
        mine = [r for r in sends if r["phone_number_id"] == number]
        assert {_digits(r["to"]) for r in mine} == expected[code]
        assert not {_digits(r["to"]) for r in mine} & set(opted_out[code])
        times = sorted(r["received_at_unix"] for r in mine)
        busiest = busiest_seconds(times)
        peak = busiest[0][1]
        assert fits_the_cap(times, CAPS[code]), f"{code}: over {CAPS[code]}/s: {busiest[:3]}"
        # Sends after the first second's, over the span: the measured rate.
        rate = (len(times) - CAPS[code]) / max(times[-1] - times[0], 1e-9)
        print(
            f"{code}: {len(mine)} sends, {rate:.1f}/s overall, "
            f"peak {peak} in one second, cap {CAPS[code]}/s"
        )
        assert rate <= CAPS[code] * 1.05
        by_citizen = {_digits(r["to"]): r["payload"]["template"] for r in mine}
        assert by_citizen[seeded[code][0]]["language"]["code"] == "id"
        assert by_citizen[seeded[code][0]]["components"][0]["parameters"][1]["text"].startswith(
            "Layanan paspor"
        )

    for code, broadcast_id in ids.items():
        _wait(
            lambda c=code, b=broadcast_id: _report(stack, c, b)["delivered"] == len(expected[c]),
            30,
            f"{code}'s delivered statuses",
        )
        report = _report(stack, code, broadcast_id)
        assert report["targeted"] == PER_OFFICE
        assert report["sent"] == report["delivered"] == len(expected[code])
        assert report["failed"] == 0 and report["started_by"] == f"{code}.lead"
        assert report["skipped"] == (2 if code == "jakpus" else 0)
    page = _lead(stack, "jakpus").get("/ops/o/jakpus/broadcasts")
    assert ids["jakpus"] in page.text and ids["bogor"] not in page.text
