"""SQL of the feedback domain."""
