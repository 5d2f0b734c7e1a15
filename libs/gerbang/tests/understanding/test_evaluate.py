"""`make eval-dev` (`evaluate --split dev`) never opens the held-out files."""

from __future__ import annotations

import json

import pytest

from gerbang.understanding import evaluate


def test_split_dev_runs_no_held_out_section(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[str] = []

    def section(name: str):  # type: ignore[no-untyped-def]
        def run() -> dict[str, object]:
            ran.append(name)
            return {"name": name}

        return run

    monkeypatch.setattr(evaluate, "SECTIONS", {name: section(name) for name in evaluate.SECTIONS})
    assert evaluate.main(["--split", "dev", "--quiet"]) == 0
    assert "test" not in ran and "multi_turn_heldout" not in ran
    assert {"dev", "multi_turn"} <= set(ran)
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "test" not in printed and "multi_turn_heldout" not in printed
