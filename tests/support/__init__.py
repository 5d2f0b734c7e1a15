"""Helpers shared by Gerbang's test suites (fake Graph API server, …)."""
