"""Custom actions: their CRUD (/v1/custom-actions) and building a call's HTTP request (``ActionSpec``,
``OutboundRequest``). Sending, pacing and recording the calls is ``outbound``'s."""
