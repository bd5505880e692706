"""Campaign tests use the shared ``api`` fixtures of ``tests/conftest.py``."""

from tests.builders import Api, ApiFactory

__all__ = ["Api", "ApiFactory"]
