"""The one error PQL parsing and checking raise: it names the position and the token at fault."""

from __future__ import annotations

from clarion.errors import Invalid


class PqlError(Invalid):
    """Invalid PQL: a syntax error, a type error or a valid but unsupported construct.

    ``position`` is the 0-based character offset of ``token`` in the PQL text (0 for ``pql/json``, whose
    ``token`` is then the offending node's name). It is an ``Invalid``, so it renders as a 400 if it escapes.
    """

    def __init__(self, message: str, *, position: int, token: str, kind: str = "Unexpected token") -> None:
        self.message = message
        self.position = position
        self.token = token
        self.kind = kind
        culprit = (
            "Unexpected end of input" if kind == "Unexpected token" and token == "" else f"{kind} {token!r}"
        )
        super().__init__(
            f"{culprit} at position {position}: {message}",
            context={"position": position, "token": token},
        )


def unexpected(token: str, position: int, expected: str) -> PqlError:
    """A syntax error: ``token`` was found where ``expected`` was needed."""
    return PqlError(f"expected {expected}", position=position, token=token)


def type_error(token: str, position: int, message: str) -> PqlError:
    """A well-formed expression whose operand types do not fit."""
    return PqlError(message, position=position, token=token, kind="Type error on")


def unsupported(token: str, position: int, message: str) -> PqlError:
    """Valid PQL that Clarion does not evaluate (event queries, aggregations, …)."""
    return PqlError(f"{message} is not supported", position=position, token=token, kind="Unsupported")
