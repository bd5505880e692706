"""A write plan: profile writes applied in order to an in-memory view of the profiles they touch.

The service reads the owners of every identity of a batch and the profiles they point to (two queries),
applies each write here in order, then stores the result with a few set-based statements. So a batch of
1,000 writes — or an import batch of 20,000 — costs the same number of round trips as one write, and later
writes of a batch see the effect of earlier ones exactly as if they had been sent one by one. A batch
presumed new (``plan_presuming_new``) is planned with no reads at all; the unique index checks it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from clarion.kit.ids import new_reference
from clarion.profiles.documents import (
    Identity,
    ProfileInput,
    changes,
    decode_object,
    encoded_document,
    merge,
)
from clarion.profiles.errors import InvalidProfile


def id_sequence() -> Callable[[], str]:
    """A source of ids sharing one fresh UUIDv7 prefix and numbered in their last 48 bits.

    Several times cheaper than a ``new_reference()`` per row, which counts in a bulk import writing a
    profile and two identities per line, and just as time-ordered (new keys land at the right edge of the
    index). Two sources share a prefix only if they start in the same millisecond with the same 26 random
    bits; the writer then hits a primary-key error and retries with fresh sources.
    """
    prefix = new_reference()[:24]
    numbers = itertools.count()
    return lambda: f"{prefix}{next(numbers):012x}"


class StoredProfile:
    """A profile as a plan sees it: its attribute document and identity map ``{namespace: [value, …]}``.

    ``document`` is the serialized ``attributes`` once the plan set them (the writers store it as is); a
    profile created from a verbatim patch holds only the document until a later write merges into it.
    """

    __slots__ = ("_attributes", "document", "id", "identities")

    def __init__(
        self,
        id: str,
        attributes: dict[str, Any] | None,
        identities: dict[str, list[str]],
        document: bytes = b"",
    ) -> None:
        self.id = id
        self._attributes = attributes
        self.identities = identities
        self.document = document

    @property
    def attributes(self) -> dict[str, Any]:
        """The attribute document."""
        if self._attributes is None:
            self._attributes = decode_object(self.document)
        return self._attributes

    @classmethod
    def from_row(cls, row: Any) -> StoredProfile:
        """From a ``(id, attributes, identities)`` row, copied so that the plan may change it."""
        profile_id, attributes, identities = row
        stored = identities if isinstance(identities, dict) else {}
        return cls(str(profile_id), dict(attributes), {name: list(values) for name, values in stored.items()})

    def set_attributes(self, attributes: dict[str, Any], document: bytes) -> None:
        """Replace the attributes with a merge result and its serialization."""
        self._attributes, self.document = attributes, document


class Outcome(NamedTuple):
    """What became of one write: 201 created, 200 applied, 400/409 refused (with the reason)."""

    status: int
    profile_id: str | None = None
    error: str | None = None
    changed: bool = False


@dataclass(slots=True)
class Plan:
    """Writes applied in order; ``created``, ``updated`` and ``new_identities`` are what to store."""

    owners: dict[Identity, str]
    profiles: dict[str, StoredProfile]
    next_id: Callable[[], str] = field(default_factory=id_sequence)
    """Ids of the rows this plan creates (profiles and identities)."""
    created: dict[str, StoredProfile] = field(default_factory=dict)
    updated: dict[str, StoredProfile] = field(default_factory=dict)
    new_identities: list[tuple[str, str, str, str]] = field(default_factory=list)
    """``(id, namespace, value, profile id)`` rows to insert."""

    def apply(self, write: ProfileInput) -> Outcome:
        """Apply one write: merge into the profile owning its primary identity (or create one)."""
        owner_id = self.owners.get(write.primary)
        taken = self._taken(write.identities, owner_id)
        if taken is not None:
            other = self.owners[taken]
            return Outcome(
                409, error=f"identities.{taken[0]}: {taken[1]!r} already belongs to another profile ({other})"
            )
        if owner_id is None:
            return self._create(write)
        return self._update(self.profiles[owner_id], write)

    def _taken(self, identities: tuple[Identity, ...], owner_id: str | None) -> Identity | None:
        """The first of ``identities`` owned by a profile other than ``owner_id``."""
        for identity in identities:
            if self.owners.get(identity, owner_id) != owner_id:
                return identity
        return None

    def _create(self, write: ProfileInput) -> Outcome:
        """A new profile with every identity of ``write`` (none has an owner)."""
        if write.document is not None:
            # The common import line: its JSON is stored as it came, never decoded (see verbatim_document).
            profile = StoredProfile(self.next_id(), None, {}, write.document)
        else:
            attributes = merge({}, write.attributes) if write.removes else write.attributes
            try:
                document = encoded_document(attributes)
            except InvalidProfile as refused:
                return Outcome(400, error=refused.detail)
            profile = StoredProfile(self.next_id(), attributes, {}, document)
        self.profiles[profile.id] = self.created[profile.id] = profile
        self._add_identities(profile, write.identities)
        return Outcome(201, profile_id=profile.id, changed=True)

    def _update(self, profile: StoredProfile, write: ProfileInput) -> Outcome:
        """Merge ``write`` into ``profile``; unchanged when it adds nothing."""
        added = [identity for identity in write.identities if identity not in self.owners]
        if not added and not changes(profile.attributes, write.attributes):
            return Outcome(200, profile_id=profile.id)
        merged = merge(profile.attributes, write.attributes)
        try:
            document = encoded_document(merged)
        except InvalidProfile as refused:
            return Outcome(400, error=refused.detail)
        profile.set_attributes(merged, document)
        if profile.id not in self.created:
            self.updated[profile.id] = profile
        self._add_identities(profile, added)
        return Outcome(200, profile_id=profile.id, changed=True)

    def _add_identities(self, profile: StoredProfile, identities: Iterable[Identity]) -> None:
        for identity in identities:
            namespace, value = identity
            self.owners[identity] = profile.id
            profile.identities.setdefault(namespace, []).append(value)
            self.new_identities.append((self.next_id(), namespace, value, profile.id))


class Planned(NamedTuple):
    """A plan and the outcome of each of its writes, in order."""

    plan: Plan
    outcomes: list[Outcome]


def apply_all(plan: Plan, writes: Sequence[ProfileInput]) -> Planned:
    """Apply ``writes`` to ``plan`` in order."""
    return Planned(plan, [plan.apply(write) for write in writes])


def plan_presuming_new(writes: Sequence[ProfileInput]) -> Planned:
    """``writes`` planned as if none of their identities were stored: no reads (see ``service.write``)."""
    return apply_all(Plan({}, {}), writes)
