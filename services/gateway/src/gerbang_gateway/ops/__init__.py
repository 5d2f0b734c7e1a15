"""The ops dashboard (`/ops`): per-office traffic, replies, dead letters, feedback, FAQ misses.

`stats` keeps the numbers in Redis (written by the router, sender and status service);
`access` decides who sees which office; `deadletters` indexes `<topic>.dlq` for re-driving;
`feedback` talks to the feedback API; `pages` serves the HTML.
"""
