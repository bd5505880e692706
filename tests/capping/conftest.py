"""Capping tests share the Journey Orchestration client of the throttling tests."""

from tests.throttling.conftest import jo, prefix

__all__ = ["jo", "prefix"]
