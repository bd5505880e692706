"""Template rendering and compiling throughput, next to baselines measured in the same run.

The workload is the research bench's template sample (its ``tpl_bench.py``): a 2.2 KB email template
rendering to the 2.6 KB of ``bench/workload/sample_email.html`` with 11 substitutions, one loop over 5 items
and two if/else blocks, HTML autoescape on. Engines:

- ours, ``{{#if}}``: Handlebars block syntax, as the research bench;
- ours, ``{%#if%}``: the same with AJO conditions (``{%#if context.flags.vip = true%}``);
- ``string.Template``: the same page as a flat template (loop unrolled, branches chosen in advance);
  "flat+escape" builds the escaped mapping from the data on every render (the same lookups and escaping
  our engine does), "substitute only" times ``substitute`` on a prepared mapping (the floor);
- Jinja2 (``Environment`` and ``ImmutableSandboxedEnvironment`` with a dict-first ``getattr``), when
  installed.

Our output is checked against the sample, and every engine's against ours, before timing. Single-threaded;
``cpu`` columns divide by this process's CPU time, so a busy machine shows up as wall rate < CPU rate.

Usage: .venv/bin/python -m bench.templates [--seconds 1.5] [--reps 5]
"""

from __future__ import annotations

import argparse
import html
import os
import platform
import re
import statistics
import string
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.kit.report import console, table, write_results
from bench.kit.workload import CSS, ITEMS, SAMPLE_HTML
from clarion.templating import compile_template

DATA: dict[str, Any] = {
    "context": {
        "user": {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada.lovelace@example.com",
            "plan": "pro",
            "locale": "en-GB",
        },
        "order": {"id": "ORD-2024-000123", "total": 129.99, "currency": "EUR", "items": ITEMS},
        "unsubscribeUrl": "https://example.com/u/abcdef0123456789",
        "flags": {"vip": True, "firstOrder": False},
    },
    "campaign": {"name": "Welcome", "id": "welcome-series-2024-q4"},
}
FIELDS = ("name", "sku", "qty", "price")
Engine = tuple[str, str, Callable[[], str], Callable[[], object] | None, str]
"""(name, template source, render, compile or None, note)."""


@dataclass(frozen=True)
class Syntax:
    """How one engine spells the template's pieces."""

    var: Callable[[str], str]
    loop_open: str
    loop_close: str
    item: Callable[[str], str]
    vip_open: str
    vip_else: str
    vip_close: str
    first_open: str
    first_close: str


def page(s: Syntax) -> str:
    """The sample email in one engine's syntax (same text as the research bench)."""
    v, it = s.var, s.item
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Your order {v("context.order.id")}</title><style>{CSS}</style></head>
<body><table width="100%" cellpadding="0" cellspacing="0"><tr><td align="center"><table width="600" style="border:1px solid #eee">
<tr><td style="padding:24px"><h1 style="font-size:22px">Hi {v("context.user.firstName")} {v("context.user.lastName")},</h1>
<p>Thanks for your order <strong>{v("context.order.id")}</strong>. We are getting it ready. Your plan: {v("context.user.plan")}.</p>
{s.vip_open}<p style="color:#b8860b">As a VIP customer you get free express shipping on this and every future order.</p>{s.vip_else}<p>Upgrade to VIP for free express shipping.</p>{s.vip_close}
<table width="100%" style="border-collapse:collapse"><tr><th align="left">Item</th><th>Qty</th><th align="right">Price</th></tr>
{s.loop_open}<tr><td style="padding:4px 0;border-bottom:1px solid #f0f0f0">{it("name")} <span style="color:#999">({it("sku")})</span></td><td align="center">{it("qty")}</td><td align="right">{it("price")}</td></tr>
{s.loop_close}</table>
<p style="font-size:18px">Total: <strong>{v("context.order.total")} {v("context.order.currency")}</strong></p>
{s.first_open}<p>Welcome aboard! Here is 10% off your next order.</p>{s.first_close}
<p><a class="btn" href="https://example.com/orders/{v("context.order.id")}?utm_campaign={v("campaign.id")}">View your order</a></p>
<p style="font-size:12px;color:#999">You receive this email because you are a customer of Example Ltd, 1 Example Street, London. We respect your privacy and will never share your data with third parties. If you no longer wish to receive these emails you can
<a href="{v("context.unsubscribeUrl")}">unsubscribe here</a>. Sent to {v("context.user.email")}.</p>
</td></tr></table></td></tr></table></body></html>"""  # noqa: E501


HANDLEBARS = page(
    Syntax(
        lambda k: f"{{{{{k}}}}}",
        "{{#each context.order.items}}",
        "{{/each}}",
        lambda k: f"{{{{this.{k}}}}}",
        "{{#if context.flags.vip}}",
        "{{else}}",
        "{{/if}}",
        "{{#if context.flags.firstOrder}}",
        "{{/if}}",
    )
)
AJO = page(
    Syntax(
        lambda k: f"{{{{{k}}}}}",
        "{{#each context.order.items}}",
        "{{/each}}",
        lambda k: f"{{{{this.{k}}}}}",
        "{%#if context.flags.vip = true%}",
        "{%else%}",
        "{%/if%}",
        "{%#if context.flags.firstOrder = true%}",
        "{%/if%}",
    )
)
JINJA = page(
    Syntax(
        lambda k: f"{{{{ {k} }}}}",
        "{% for item in context.order.items %}",
        "{% endfor %}",
        lambda k: f"{{{{ item.{k} }}}}",
        "{% if context.flags.vip %}",
        "{% else %}",
        "{% endif %}",
        "{% if context.flags.firstOrder %}",
        "{% endif %}",
    )
)


def _flat_name(path: str) -> str:
    return path.replace(".", "_")


def _flat_source() -> str:
    """The page for ``string.Template``: loop unrolled over 5 items, branches chosen (VIP, not first)."""
    rows = page(
        Syntax(lambda k: f"${{{_flat_name(k)}}}", "@@", "@@", lambda k: f"${{item@_{k}}}", "", "", "", "", "")
    )
    head, row, tail = rows.split("@@")
    unrolled = "".join(row.replace("item@", f"item{i}") for i in range(len(ITEMS)))
    source = head + unrolled + tail
    vip = (
        '<p style="color:#b8860b">As a VIP customer you get free express shipping on this and every future '
        "order.</p>"
    )
    source = source.replace(vip + "<p>Upgrade to VIP for free express shipping.</p>", vip)
    return source.replace("<p>Welcome aboard! Here is 10% off your next order.</p>", "")


FLAT = _flat_source()
FLAT_PATHS = sorted(set(re.findall(r"\$\{(context_[\w]+|campaign_[\w]+)\}", FLAT)))


def _text(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def flat_mapping(data: dict[str, Any]) -> dict[str, str]:
    """What a flat-substitution engine needs per message: every value looked up and escaped."""
    mapping = {}
    for name in FLAT_PATHS:
        value: Any = data
        for key in name.split("_"):
            value = value[key]
        mapping[name] = html.escape(_text(value))
    for i, item in enumerate(data["context"]["order"]["items"]):
        for field in FIELDS:
            mapping[f"item{i}_{field}"] = html.escape(_text(item[field]))
    return mapping


@dataclass
class Result:
    """One engine's rates."""

    engine: str
    renders_per_s: float
    renders_per_cpu_s: float
    compiles_per_s: float | None
    compiles_per_cpu_s: float | None
    output_bytes: int
    template_bytes: int
    note: str = ""


def measure(fn: Callable[[], object], seconds: float, reps: int) -> tuple[float, float]:
    """Median calls/s over ``reps`` runs of ``seconds`` each, by wall clock and by process CPU time."""
    wall, cpu = [], []
    for _ in range(reps):
        calls, t0, c0 = 0, time.perf_counter(), time.process_time()
        end = t0 + seconds
        while True:
            for _ in range(100):
                fn()
            calls += 100
            now = time.perf_counter()
            if now >= end:
                break
        wall.append(calls / (now - t0))
        cpu.append(calls / max(time.process_time() - c0, 1e-9))
    return statistics.median(wall), statistics.median(cpu)


def engines() -> list[Engine]:
    """(name, template source, render, compile, note) for every engine available here."""
    ours = compile_template(HANDLEBARS, autoescape=True)
    ours_ajo = compile_template(AJO, autoescape=True)
    flat = string.Template(FLAT)
    prepared = flat_mapping(DATA)
    found: list[Engine] = [
        (
            "ours, {{#if}}",
            HANDLEBARS,
            lambda: ours.render(DATA),
            lambda: compile_template(HANDLEBARS, autoescape=True),
            "",
        ),
        (
            "ours, {%#if%}",
            AJO,
            lambda: ours_ajo.render(DATA),
            lambda: compile_template(AJO, autoescape=True),
            "",
        ),
        (
            "string.Template, flat+escape",
            FLAT,
            lambda: flat.substitute(flat_mapping(DATA)),
            lambda: string.Template(FLAT),
            "mapping built per render",
        ),
        (
            "string.Template, substitute only",
            FLAT,
            lambda: flat.substitute(prepared),
            None,
            "prepared mapping",
        ),
    ]
    return found + jinja_engines()


def jinja_engines() -> list[Engine]:
    try:
        import jinja2
        import jinja2.sandbox
    except ImportError:
        return []

    class DictFirst(jinja2.Environment):
        """Stock Jinja2 resolves ``order.items`` to ``dict.items``; look keys up first."""

        def getattr(self, obj: Any, attribute: str) -> Any:
            if type(obj) is dict:
                return obj[attribute] if attribute in obj else self.undefined(obj=obj, name=attribute)
            return super().getattr(obj, attribute)

    class SandboxDictFirst(DictFirst, jinja2.sandbox.ImmutableSandboxedEnvironment):
        """The same lookup rule in the sandbox."""

    def engine(name: str, env: Any) -> Engine:
        template = env.from_string(JINJA)
        note = f"{jinja2.__version__}, dict-first getattr"
        return name, JINJA, lambda: template.render(DATA), lambda: env.from_string(JINJA), note

    return [
        engine("Jinja2", DictFirst(autoescape=True)),
        engine("Jinja2 sandbox", SandboxDictFirst(autoescape=True)),
    ]


def check(name: str, output: str, expected: str) -> None:
    """Refuse to time an engine whose output differs from what it must render."""
    if output != expected:
        raise SystemExit(f"{name}: output differs from the expected page; refusing to compare")


def run(seconds: float, reps: int) -> list[Result]:
    expected = compile_template(HANDLEBARS, autoescape=True).render(DATA)
    check("ours", expected, SAMPLE_HTML)
    results = []
    for name, source, render, compile_fn, note in engines():
        check(name, render(), expected)
        wall, cpu = measure(render, seconds, reps)
        compiles, compiles_cpu = measure(compile_fn, min(seconds, 1.0), reps) if compile_fn else (None, None)
        results.append(Result(name, wall, cpu, compiles, compiles_cpu, len(expected), len(source), note))
        console.print(f"  measured {name}")
    return results


def show(results: list[Result]) -> None:
    ours = results[0]
    columns = [
        "engine",
        "renders/s",
        "per CPU s",
        "µs/render",
        "vs ours (CPU)",
        "ms/compile",
        "CPU ms/compile",
        "note",
    ]
    rows = [
        [
            r.engine,
            f"{r.renders_per_s:,.0f}",
            f"{r.renders_per_cpu_s:,.0f}",
            f"{1e6 / r.renders_per_s:.1f}",
            f"{r.renders_per_cpu_s / ours.renders_per_cpu_s:.2f}",
            f"{1e3 / r.compiles_per_s:.3f}" if r.compiles_per_s else "-",
            f"{1e3 / r.compiles_per_cpu_s:.3f}" if r.compiles_per_cpu_s else "-",
            r.note,
        ]
        for r in results
    ]
    caption = (
        "targets for ours: ≥ 40,000 renders/s and < 1 ms per compile. 'per CPU s' and 'vs ours (CPU)' divide "
        "by this process's CPU time, so they hold when other processes share the cores"
    )
    title = "Template rendering, sample 2.6 KB email, autoescape, one thread"
    console.print(table(title, columns, rows, caption=caption, left={"note"}))


def save(results: list[Result], meta: dict[str, Any]) -> None:
    ours = results[0]
    rows = [
        {
            **asdict(r),
            "ratio_to_ours": r.renders_per_s / ours.renders_per_s,
            "cpu_ratio_to_ours": r.renders_per_cpu_s / ours.renders_per_cpu_s,
        }
        for r in results
    ]
    console.print(f"written {write_results('templates', {'meta': meta, 'results': rows})}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one timed run")
    parser.add_argument("--reps", type=int, default=5, help="timed runs per engine (median reported)")
    args = parser.parse_args()
    meta = {
        "seconds": args.seconds,
        "reps": args.reps,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    results = run(args.seconds, args.reps)
    show(results)
    save(results, meta)


if __name__ == "__main__":
    main()
