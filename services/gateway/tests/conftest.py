"""Gateway test fixtures: the fake Graph API server (shared with the cross-service tests)."""

from tests.support.fake_graph import fake_graph, fake_graph_server

__all__ = ["fake_graph", "fake_graph_server"]
