"""Activation: Flow Service connections, dataflows and runs; the export engine; ad-hoc activation."""
