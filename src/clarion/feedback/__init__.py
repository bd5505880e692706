"""Feedback on sent messages: the inbound bounce and complaint listener, unsubscribe and tracking routes."""
