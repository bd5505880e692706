"""Outbound HTTP calls of custom actions: accepted by the events API (or queued for a campaign's messages),
paced by throttling configurations, capped, recorded in the ``action_calls`` ledger.

Where things are: ``intake`` (events → queued calls), ``queues`` (queue names, slots, the 6-hour expiry),
``dispatcher`` (throttled calls at their rate, in order), ``tasks`` (direct calls), ``sender`` (one call,
retries), ``ledger``/``repository`` (the ledger), ``rules`` (throttling and capping rules), ``transport``
(pacing SMS, push and webhooks), ``service`` (what other domains call), ``endpoints`` (/v1/events,
/v1/action-calls).
"""
