"""require: a lookup's result or the caller's own error."""

from __future__ import annotations

import pytest

from clarion.errors import NotFound
from clarion.kit.repository import require


def test_require_returns_what_was_found_even_when_falsy() -> None:
    assert require("row", NotFound("missing")) == "row"
    assert require(0, NotFound("missing")) == 0
    assert require([], NotFound("missing")) == []


def test_require_raises_the_given_error_when_nothing_was_found() -> None:
    error = NotFound("No such thing", code="X-404")
    with pytest.raises(NotFound) as raised:
        require(None, error)
    assert raised.value is error
