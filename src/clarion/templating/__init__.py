"""Personalization templates: AJO's Handlebars-style syntax, parsed by us and compiled once to Python.

``compile_template(source, autoescape=True).render({"context": ..., "profile": ...})``; with
``escape="json"`` the output of ``{{…}}`` is escaped for the inside of a JSON string instead of HTML.

The language:

- ``{{path}}`` (HTML-escaped with autoescape), ``{{{path}}}`` / ``{{& path}}`` (raw); paths ``a.b``,
  ``a/b``, ``a.[odd key]``, ``a.0`` (list index), ``this``, ``.``, ``../x``, ``@root.x``, and inside
  ``{{#each}}`` the data ``@index``, ``@key``, ``@first``, ``@last``;
- ``{{#if p}}``, ``{{#unless p}}`` with ``{{else if p}}`` / ``{{else unless p}}`` / ``{{else}}``;
  ``{{#each p}}`` over lists and mappings and ``{{#with p}}``, both with ``as |item key|`` block
  parameters and an ``{{else}}``;
- AJO conditions ``{%#if expr%}…{%else if expr%}…{%else%}…{%/if%}`` (``= != < <= > >=``, ``and``,
  ``or``, ``not``, parentheses, strings, numbers, ``true``/``false``/``null``, paths); a comparison is
  numeric when both sides look like numbers, else it compares the rendered strings;
- comments ``{{! … }}`` and ``{{!-- … --}}``, ``~`` whitespace control, Handlebars' standalone-line
  rule for block tags and comments, and ``\\{{`` for a literal ``{{``.

Lookups are item lookups only (never attributes), so keys named ``items`` or ``keys`` are data. Missing
values render as ""; truthiness is Handlebars' (missing, None, False, "", 0, empty list/dict are false).
Inside a block that changes ``this``, a bare path is looked up in the innermost scope holding its first
key, falling back outwards to the root (Handlebars compat mode), so ``{{context.x}}`` works in a loop.

``Template.references`` lists every path the template may read, absolute from the root: ``this.name``
in ``{{#each context.items}}`` is ``context.items.name``; a bare path in a loop is listed both ways
(``context.items.name`` and ``name``) because it may read either. ``profile_references`` picks the
``profile`` ones (and ``@root``, a read of everything) for the high-throughput check.
"""

from clarion.templating.compiler import Template, compile_template, profile_references
from clarion.templating.errors import TemplateSyntaxError
from clarion.templating.nodes import Reference

__all__ = ["Reference", "Template", "TemplateSyntaxError", "compile_template", "profile_references"]
