"""The one error a template can raise at compile time."""

from __future__ import annotations


class TemplateSyntaxError(ValueError):
    """A template that does not parse; ``line`` and ``column`` are 1-based and point at the culprit."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message, line, column)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return f"{self.message} at line {self.line}, column {self.column}"
