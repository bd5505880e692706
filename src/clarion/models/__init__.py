"""Every ORM table, imported here so that metadata and Alembic see them all."""

from clarion.models.actions import ActionCall, CustomAction
from clarion.models.activation import ActiveAudienceRun, Flow, FlowConnection, FlowRun
from clarion.models.audiences import ExportJob, SegmentDefinition, SegmentJob, SegmentMembership
from clarion.models.campaigns import Campaign, ChannelConfiguration, IpPool
from clarion.models.console import ConsoleSession
from clarion.models.jobs import JobLedgerEntry
from clarion.models.messages import Execution, Message
from clarion.models.profiles import Profile, ProfileIdentity
from clarion.models.suppressions import SoftBounce, Suppression, SuppressionRevision
from clarion.models.tenancy import AccessToken, ApiCredential, Organization, Sandbox
from clarion.models.throttling import EndpointConfig, RuleRevision, ThrottlingConfig
from clarion.models.usage import MessageUsage

__all__ = [
    "AccessToken",
    "ActionCall",
    "ActiveAudienceRun",
    "ApiCredential",
    "Campaign",
    "ChannelConfiguration",
    "ConsoleSession",
    "CustomAction",
    "EndpointConfig",
    "Execution",
    "ExportJob",
    "Flow",
    "FlowConnection",
    "FlowRun",
    "IpPool",
    "JobLedgerEntry",
    "Message",
    "MessageUsage",
    "Organization",
    "Profile",
    "ProfileIdentity",
    "RuleRevision",
    "Sandbox",
    "SegmentDefinition",
    "SegmentJob",
    "SegmentMembership",
    "SoftBounce",
    "Suppression",
    "SuppressionRevision",
    "ThrottlingConfig",
]
