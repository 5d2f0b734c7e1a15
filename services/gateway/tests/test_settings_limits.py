"""Gateway settings that must agree with each other fail at start, naming both fields."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gerbang_gateway.settings import GatewaySettings


def test_defaults_agree() -> None:
    settings = GatewaySettings()
    assert settings.max_inbound_message_bytes * 2 <= settings.kafka_max_message_bytes
    assert settings.graph_connections_per_office <= settings.graph_max_connections


@pytest.mark.parametrize(
    ("values", "names"),
    [
        (
            {"kafka_max_message_bytes": 100_000, "max_inbound_message_bytes": 60_000},
            ("max_inbound_message_bytes", "kafka_max_message_bytes"),
        ),
        (
            {"graph_max_connections": 8, "graph_connections_per_office": 16},
            ("graph_connections_per_office", "graph_max_connections"),
        ),
    ],
)
def test_settings_that_disagree_are_refused(values: dict[str, int], names: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as caught:
        GatewaySettings(**values)  # type: ignore[arg-type]
    for name in names:
        assert name in str(caught.value)
