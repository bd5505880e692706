"""Every ORM table, imported here so that metadata and Alembic see them all."""

from clarion.models.jobs import JobLedgerEntry
from clarion.models.tenancy import AccessToken, ApiCredential, Organization, Sandbox

__all__ = ["AccessToken", "ApiCredential", "JobLedgerEntry", "Organization", "Sandbox"]
