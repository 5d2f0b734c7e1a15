"""`gerbang ask` as office staff run it: offline, one JSON object per line, every service."""

from __future__ import annotations

import json

import pytest

from gerbang.cli import main


def ask_lines(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *texts: str):  # type: ignore[no-untyped-def]
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(texts) + "\n"))
    assert main(["ask", "--office", "jakpus", "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_ask_answers_every_service_offline(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fees, status, complaint, thanks = ask_lines(
        capsys,
        monkeypatch,
        "brp biaya paspor elektronik 10 thn",
        "cek status permohonan saya",
        "petugas loket jutek banget, pelayanan lama",
        "pelayanannya cepat dan petugasnya ramah, terima kasih",
    )
    assert (fees["service"], fees["intent"]) == ("faq", "faq:fees")
    assert "950.000" in fees["reply"]
    assert status["intent"] == "status" and "nomor permohonan" in status["reply"]
    assert complaint["intent"] == "feedback:complaint"
    assert "JKP-" in complaint["reply"] and "keluhan" in complaint["reply"].lower()
    assert thanks["intent"] == "feedback:appreciation" and "apresiasi" in thanks["reply"]
    for answer in (fees, status, complaint, thanks):
        assert set(answer) >= {"service", "intent", "reply", "confidence"}


def test_unknown_office_is_a_clear_error(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["ask", "--office", "atlantis", "halo"]) == 2
    assert "unknown office 'atlantis'" in capsys.readouterr().err
