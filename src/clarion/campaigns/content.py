"""Compiling campaign content and sender fields: syntax errors with positions, ``profile.*`` detection."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from clarion.campaigns.errors import InvalidCampaign
from clarion.templating import Template, TemplateSyntaxError, compile_template


@dataclass(frozen=True, slots=True)
class TemplateField:
    """One personalizable field: where it lives (for error messages), its source, and its escaping."""

    location: str
    source: str
    autoescape: bool


def content_fields(channel: str, content: Mapping[str, Any]) -> Iterator[TemplateField]:
    """The personalizable fields of a campaign's content for its channel."""
    block = content.get(channel) or {}
    if channel == "email":
        yield TemplateField("content.email.subject", block.get("subject") or "", autoescape=False)
        if block.get("html"):
            yield TemplateField("content.email.html", block["html"], autoescape=True)
        if block.get("text"):
            yield TemplateField("content.email.text", block["text"], autoescape=False)
    elif channel == "sms":
        yield TemplateField("content.sms.body", block.get("body") or "", autoescape=False)
    else:
        yield TemplateField("content.push.title", block.get("title") or "", autoescape=False)
        yield TemplateField("content.push.body", block.get("body") or "", autoescape=False)
        for key, value in (block.get("data") or {}).items():
            yield TemplateField(f"content.push.data.{key}", value, autoescape=False)


def sender_fields(settings: Mapping[str, Any]) -> Iterator[TemplateField]:
    """The personalizable sender fields of an email channel configuration."""
    for name in ("fromAddress", "fromName", "replyTo", "errorAddress"):
        if settings.get(name):
            yield TemplateField(f"email.{name}", settings[name], autoescape=False)
    for header, value in (settings.get("headers") or {}).items():
        yield TemplateField(f"email.headers.{header}", value, autoescape=False)


def compile_field(field: TemplateField) -> Template:
    """Compile one field; a syntax error becomes a 400 naming the field, line and column."""
    try:
        return compile_template(field.source, autoescape=field.autoescape)
    except TemplateSyntaxError as error:
        raise InvalidCampaign(
            f"{field.location}: template does not parse: {error.message} at line {error.line}, "
            f"column {error.column}",
            context={"field": field.location, "line": error.line, "column": error.column},
        ) from None


def check_templates(fields: Iterator[TemplateField], *, high_throughput: bool) -> None:
    """Every field compiles; in high-throughput mode none reads ``profile.*`` (names the first offender)."""
    for field in fields:
        template = compile_field(field)
        if not high_throughput:
            continue
        for reference in template.references:
            if reference.path == "profile" or reference.path.startswith("profile."):
                raise InvalidCampaign(
                    f"{field.location}: {{{{{reference.path}}}}} at line {reference.line}, column "
                    f"{reference.column} reads the profile; high-throughput campaigns use context data only",
                    context={
                        "field": field.location,
                        "expression": reference.path,
                        "line": reference.line,
                        "column": reference.column,
                        "rule": "no_profile_in_ht",
                    },
                )


def has_personalization(value: str) -> bool:
    """True when a value contains a template expression."""
    return "{{" in value or "{%" in value
