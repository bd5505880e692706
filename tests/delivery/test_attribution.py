"""Captured mail is attributed by an opaque tag in the Message-ID, and each reader sees only its scope."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clarion.cli.main import app as cli
from clarion.config import Settings
from clarion.container import Container
from clarion.delivery.attribution import tag_of, tenant_scope, tenant_tag, unattributed_scope
from clarion.delivery.channels.email.channel import skeleton_for
from clarion.devsmtp.outbox import CapturedMail, Outbox
from clarion.kit.secretbox import SecretBox, new_key
from clarion.tenancy import service

runner = CliRunner()
BOX = SecretBox(new_key())


def rendered(tag: str, subject: str, to: str = "someone@example.com") -> bytes:
    """A message as the email channel writes it for a tenant."""
    skeleton = skeleton_for({"fromAddress": "news@shop.example"}, {}, tag)
    return skeleton.render(to=to, subject=subject, html="<p>hi</p>", text=None).raw


def test_the_tag_is_opaque_stable_and_per_sandbox() -> None:
    tag = tenant_tag(BOX, "org-1", "sandbox-1")
    assert re.fullmatch(r"[a-z2-7]{20}", tag)
    assert tag == tenant_tag(BOX, "org-1", "sandbox-1")
    assert tag != tenant_tag(BOX, "org-1", "sandbox-2")
    assert tag != tenant_tag(SecretBox(new_key()), "org-1", "sandbox-1")  # another instance's key
    raw = rendered(tag, "Hello")
    (message_id,) = re.findall(rb"Message-ID: (<[^>]+>)", raw)
    assert tag_of(message_id.decode()) == tag
    assert b"org-1" not in raw
    assert b"sandbox-1" not in raw


def test_foreign_message_ids_are_nobodys() -> None:
    assert tag_of("<CAF=abc@mail.gmail.com>") == ""
    assert tag_of("<0123456789abcdef0123456789abcdef@shop.example>") == ""
    assert tag_of("") == ""


def test_scopes_split_the_outbox(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    tag_a, tag_b = tenant_tag(BOX, "a", "prod"), tenant_tag(BOX, "b", "prod")
    outbox.store("news@shop.example", ["x@example.com"], rendered(tag_a, "for A"))
    outbox.store("news@shop.example", ["y@example.com"], rendered(tag_b, "for B"))
    outbox.store("someone@else.example", ["z@example.com"], b"Subject: direct\r\n\r\nhi\r\n")
    forged = "<00000000000000000000000000000000.abcdefghijklmnopqrst@evil.example>"
    outbox.store(
        "evil@else.example", ["z@example.com"], f"Subject: forged\r\nMessage-ID: {forged}\r\n\r\nx".encode()
    )

    def subjects(scope: object) -> list[str]:
        return [mail.subject for mail in outbox.list(keep=scope.admits)]  # type: ignore[attr-defined]

    assert subjects(tenant_scope(BOX, "a", ["prod"])) == ["for A"]
    assert subjects(tenant_scope(BOX, "b", ["prod"])) == ["for B"]
    assert subjects(unattributed_scope(BOX, [("a", "prod"), ("b", "prod")])) == ["forged", "direct"]
    assert outbox.count(keep=tenant_scope(BOX, "a", ["prod"]).admits) == 1


def test_a_large_capture_pages_fast(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    tag = tenant_tag(BOX, "a", "prod")
    outbox.folder.mkdir(parents=True)
    received = datetime.now(UTC)
    mails = (
        CapturedMail(
            f"m{n}",
            received,
            "f@x",
            ("t@x",),
            "s",
            1,
            f"m{n}.eml",
            f"<{n:032x}.{tag if n % 2 else 'x' * 20}@x>",
        )
        for n in range(40_000)
    )
    (outbox.folder / "index.jsonl").write_text("".join(json.dumps(mail.to_json()) + "\n" for mail in mails))
    scope = tenant_scope(BOX, "a", ["prod"])
    outbox.count()  # the first read parses the index once; later reads take only what was appended
    started = time.perf_counter()
    page = outbox.list(limit=20, offset=0, keep=scope.admits)
    total = outbox.count(keep=scope.admits)
    elapsed = time.perf_counter() - started
    assert (len(page), total) == (20, 20_000)
    print(f"scoped page + count of a 40,000-message capture: {elapsed * 1000:.0f} ms")
    assert elapsed < 0.5, f"a page of a 40,000-message capture took {elapsed:.2f} s"


def make_orgs(settings: Settings) -> tuple[str, str]:
    async def make() -> tuple[str, str]:
        container = Container.build(settings)
        try:
            async with container.unit_of_work() as uow:
                alice = await service.create_organization(uow, f"alice-{datetime.now().timestamp()}")
                bob = await service.create_organization(uow, f"bob-{datetime.now().timestamp()}")
            async with container.unit_of_work() as uow:
                rows = await service.every_sandbox(uow)
            a_sandbox = next(row.sandbox_id for row in rows if row.org_id == alice.id)
            outbox = Outbox(settings.outbox_path)
            tag = tenant_tag(container.secrets, alice.id, a_sandbox)
            outbox.store("news@shop.example", ["x@example.com"], rendered(tag, "Alice's news"))
            outbox.store("else@example.com", ["y@example.com"], b"Subject: From nobody\r\n\r\nhi\r\n")
            return alice.ims_org_id, bob.name
        finally:
            await container.close()

    return asyncio.run(make())


def test_clarion_outbox_shows_one_organization_or_the_unattributed(cli_env: Settings) -> None:
    alice, bob = make_orgs(cli_env)

    shown = runner.invoke(cli, ["outbox", "--org", alice])
    assert shown.exit_code == 0, shown.output
    assert "Alice's news" in shown.output
    assert "From nobody" not in shown.output
    assert "Alice's news" not in runner.invoke(cli, ["outbox", "--org", bob]).output
    orphans = runner.invoke(cli, ["outbox", "--unattributed"])
    assert "From nobody" in orphans.output
    assert "Alice's news" not in orphans.output

    short_id = re.search(r"│ (\w{8}) ", shown.output)
    assert short_id is not None
    assert "Alice's news" in runner.invoke(cli, ["outbox", "show", short_id.group(1), "--org", alice]).output
    elsewhere = runner.invoke(cli, ["outbox", "show", short_id.group(1), "--org", bob])
    assert elsewhere.exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["outbox"], "choose one with --org"),
        (["outbox", "--org", "nobody@AdobeOrg"], "No organization matches"),
        (["outbox", "--unattributed", "--org", "x"], "without --org"),
    ],
)
def test_clarion_outbox_errors_are_one_line(cli_env: Settings, args: list[str], message: str) -> None:
    make_orgs(cli_env)  # at least two organizations
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
