"""Outbound HTTP calls: the events API, the throttle runtime (paced, durable, in order) and capping."""
