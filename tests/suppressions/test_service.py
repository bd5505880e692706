"""The list's rules on a real database: idempotent adds, case-insensitive matching, removal, the bounce
policy (hard at once, soft after N messages in D days, policy never), cursors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clarion.container import Container
from clarion.errors import Invalid, NotFound
from clarion.kit.clock import utcnow
from clarion.models.suppressions import Suppression
from clarion.suppressions import service
from clarion.suppressions.bounces import Bounce
from clarion.suppressions.schemas import ListFilters, NewSuppression
from tests.conftest import TenantFactory
from tests.suppressions.conftest import Scope, prod_scope


async def add(container: Container, scope: Scope, *entries: NewSuppression, source: str = "api") -> int:
    async with container.unit_of_work() as uow:
        added = await service.suppress(uow.session, *scope, entries, source=source)
        await uow.commit()
    return added


async def reasons(container: Container, scope: Scope, address: str) -> list[tuple[str, str]]:
    async with container.unit_of_work() as uow:
        try:
            found = await service.entries_of(uow.session, *scope, address)
        except NotFound:
            return []
    return [(entry.reason, entry.category) for entry in found]


async def test_adding_is_idempotent_and_addresses_match_case_insensitively(
    container: Container, scope: Scope
) -> None:
    entry = NewSuppression("Ann@Example.COM", "manual", detail="asked by phone")
    assert await add(container, scope, entry, entry) == 1
    assert await add(container, scope, NewSuppression(" ann@example.com ", "manual")) == 0
    assert await reasons(container, scope, "ANN@example.com") == [("manual", "")]
    async with container.unit_of_work() as uow:
        (stored,) = await service.entries_of(uow.session, *scope, "ann@example.com")
    assert stored.address == "ann@example.com"
    assert stored.detail == "asked by phone"  # the first evidence is kept
    assert stored.source == "api"


async def test_an_unsubscribe_is_marketings_unless_a_category_is_given(
    container: Container, scope: Scope
) -> None:
    await add(container, scope, NewSuppression("bob@example.com", "unsubscribe"))
    await add(container, scope, NewSuppression("bob@example.com", "unsubscribe", category="Newsletter"))
    assert sorted(await reasons(container, scope, "bob@example.com")) == [
        ("unsubscribe", "Marketing"),
        ("unsubscribe", "Newsletter"),
    ]


async def test_removal_by_reason_then_all_and_readding_revives(container: Container, scope: Scope) -> None:
    await add(
        container,
        scope,
        NewSuppression("cy@example.com", "manual"),
        NewSuppression("cy@example.com", "complaint"),
    )
    async with container.unit_of_work() as uow:
        assert await service.remove(uow.session, *scope, "CY@example.com", reason="manual") == 1
        await uow.commit()
    assert await reasons(container, scope, "cy@example.com") == [("complaint", "")]
    async with container.unit_of_work() as uow:
        with pytest.raises(NotFound, match="reason 'manual'"):
            await service.remove(uow.session, *scope, "cy@example.com", reason="manual")
    async with container.unit_of_work() as uow:
        assert await service.remove(uow.session, *scope, "cy@example.com") == 1
        await uow.commit()
    assert await reasons(container, scope, "cy@example.com") == []
    assert await add(container, scope, NewSuppression("cy@example.com", "manual", detail="again")) == 1
    assert await reasons(container, scope, "cy@example.com") == [("manual", "")]


async def test_lists_are_per_sandbox_and_organization(
    container: Container, scope: Scope, make_tenant: TenantFactory
) -> None:
    other = await prod_scope(container, await make_tenant())
    await add(container, scope, NewSuppression("dee@example.com", "manual"))
    assert await reasons(container, other, "dee@example.com") == []
    async with container.unit_of_work() as uow:
        with pytest.raises(NotFound):
            await service.remove(uow.session, *other, "dee@example.com")


async def bounce(
    container: Container, scope: Scope, address: str, kind: str, message: str, days_ago: float = 0
) -> str | None:
    async with container.unit_of_work() as uow:
        reason = await service.note_bounce(
            uow.session,
            *scope,
            address,
            Bounce(kind, {"hard": "5.1.1", "soft": "4.2.2", "policy": "5.7.1"}[kind]),  # type: ignore[arg-type]
            message_id=message,
            at=utcnow() - timedelta(days=days_ago),
            detail=f"{kind} answer",
        )
        await uow.commit()
    return reason


async def test_a_hard_bounce_suppresses_at_once_a_policy_block_never(
    container: Container, scope: Scope
) -> None:
    assert await bounce(container, scope, "Gone@Example.com", "hard", "e1:0") == "hardBounce"
    (entry,) = await _entries(container, scope, "gone@example.com")
    assert (entry.reason, entry.source, entry.message_id, entry.detail) == (
        "hardBounce",
        "bounce",
        "e1:0",
        "hard answer",
    )
    assert await bounce(container, scope, "blocked@example.com", "policy", "e2:0") is None
    assert await reasons(container, scope, "blocked@example.com") == []


async def _entries(container: Container, scope: Scope, address: str) -> list[Suppression]:
    async with container.unit_of_work() as uow:
        return await service.entries_of(uow.session, *scope, address)


async def test_soft_bounces_count_messages_not_attempts_within_the_window(
    container: Container, scope: Scope
) -> None:
    address = "full@example.com"
    # Three attempts of one message, and one message older than the 7-day window: one counts.
    for _ in range(3):
        assert await bounce(container, scope, address, "soft", "m1") is None
    assert await bounce(container, scope, address, "soft", "old", days_ago=8) is None
    assert await bounce(container, scope, address, "soft", "m2") is None
    assert await reasons(container, scope, address) == []
    assert await bounce(container, scope, address, "soft", "m3") == "softBounce"
    (entry,) = await _entries(container, scope, address)
    assert entry.reason == "softBounce"
    assert entry.detail.startswith("3 soft-bounced messages in 7 days; last: soft answer")


async def test_the_soft_bounce_rule_is_configurable(container: Container, scope: Scope) -> None:
    before = service.soft_bounce_policy()
    service.set_soft_bounce_policy(service.SoftBouncePolicy(limit=1, days=1))
    try:
        assert await bounce(container, scope, "once@example.com", "soft", "m1") == "softBounce"
    finally:
        service.set_soft_bounce_policy(before)


async def test_cursor_pages_cover_the_filtered_list_once(container: Container, scope: Scope) -> None:
    await add(container, scope, *(NewSuppression(f"p{i:02}@example.com", "manual") for i in range(7)))
    await add(container, scope, NewSuppression("zed@example.com", "complaint"), source="complaint")
    seen: list[str] = []
    cursor = None
    async with container.unit_of_work() as uow:
        while True:
            page = await service.listing(uow.session, *scope, ListFilters(prefix="p"), cursor=cursor, limit=3)
            seen += [entry.address for entry in page.items]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert seen == [f"p{i:02}@example.com" for i in reversed(range(7))]
        only = await service.listing(
            uow.session, *scope, ListFilters(source="complaint"), cursor=None, limit=10
        )
        assert [entry.address for entry in only.items] == ["zed@example.com"]
        contains = await service.listing(
            uow.session, *scope, ListFilters(contains="0"), cursor=None, limit=10
        )
        assert len(contains.items) == 7  # p00..p06 all have a 0
        for bad in ("nope", "s1.!!", "s1." + "A" * 40):
            with pytest.raises(Invalid, match="cursor"):
                await service.listing(uow.session, *scope, ListFilters(), cursor=bad, limit=3)


async def test_a_removed_soft_bounce_entry_gives_the_address_new_chances(
    container: Container, scope: Scope
) -> None:
    address = "again@example.com"
    for message in ("m1", "m2", "m3"):
        await bounce(container, scope, address, "soft", message)
    assert await reasons(container, scope, address) == [("softBounce", "")]
    async with container.unit_of_work() as uow:
        await service.remove(uow.session, *scope, address)
        await uow.commit()
    assert await bounce(container, scope, address, "soft", "m4") is None  # not at once: the tally restarted
    assert await reasons(container, scope, address) == []
