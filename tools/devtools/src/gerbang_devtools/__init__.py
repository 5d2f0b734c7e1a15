"""Gerbang's development tools: what a developer and the tests need, production never runs.

- `fake_graph`: a local stand-in for Meta's Graph API (`python -m gerbang_devtools.fake_graph`);
- `simulator`: the `/simulator` page, mounted on the gateway's app in development only;
- `webhooks`: signed webhooks like Meta's (`gerbang-send`, the e2e tests, the load generator).

A workspace member of its own, so that the production images (`deploy/Dockerfile`, one
service member each) do not contain it.
"""
