"""The authenticated caller of a request."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a credential may do. Each role includes every lower one: admin ⊇ developer ⊇ user ⊇ read-only.

    - ``read-only``: reads (GET, and the few POST routes that only read: list, bulk-get, canDeploy).
    - ``user``: runs things: executions, events, ad-hoc activation, segment and export jobs, profile writes,
      message resends.
    - ``developer``: builds things: IP pools, channel configurations, campaigns, custom actions, throttling
      and capping configurations, segment definitions, Flow Service connections and dataflows.
    - ``admin``: the organization itself: sandboxes, API keys and tokens.
    """

    READ_ONLY = "read-only"
    USER = "user"
    DEVELOPER = "developer"
    ADMIN = "admin"

    def includes(self, required: Role) -> bool:
        """True when this role may do what ``required`` may."""
        return _RANK[self] >= _RANK[required]


ROLE_ORDER = (Role.READ_ONLY, Role.USER, Role.DEVELOPER, Role.ADMIN)
_RANK = {role: rank for rank, role in enumerate(ROLE_ORDER)}  # a dict: checked on every request


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling (organization, credential) and where (sandbox). Every service call receives one."""

    org_id: str
    ims_org_id: str
    sandbox_id: str
    sandbox_name: str
    sandbox_type: str
    client_id: str
    technical_account: str
    high_throughput_entitled: bool
    standard_rate_per_second: int
    high_throughput_rate_per_second: int
    role: Role = Role.ADMIN
    standard_monthly_quota: int = 0
    """Messages a month in standard mode; 0 is unlimited (``usage/`` enforces it)."""
    high_throughput_monthly_quota: int = 0
    """Messages a month in high-throughput mode; 0 is unlimited."""
    quota_mode: str = "hard"
    """``hard`` (429 once spent) or ``soft`` (accepted and flagged)."""

    @property
    def is_production(self) -> bool:
        """True in a production-type sandbox."""
        return self.sandbox_type == "production"


def job_principal(org_id: str, sandbox_id: str) -> Principal:
    """The scope of a queued job: it acts for the organization and sandbox that created it, as the worker."""
    return Principal(
        org_id=org_id,
        ims_org_id="",
        sandbox_id=sandbox_id,
        sandbox_name="",
        sandbox_type="",
        client_id="",
        technical_account="clarion-worker",
        high_throughput_entitled=False,
        standard_rate_per_second=0,
        high_throughput_rate_per_second=0,
        role=Role.ADMIN,
    )
