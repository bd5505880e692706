"""The authenticated caller of a request."""

from __future__ import annotations

from dataclasses import dataclass


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
    )
