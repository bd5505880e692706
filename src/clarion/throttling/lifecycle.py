"""The life both kinds of configuration share: who calls, state changes, and the ``metadata`` view.

States (contract §3.6): ``created`` → ``updated`` (after a PUT) → ``deployed``; an undeploy returns to the
authoring state (``created`` or ``updated``) and sets ``hasBeenDeployed`` false.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clarion.kit.clock import iso_micro
from clarion.models.throttling import ConfigLifecycle
from clarion.tenancy.principal import Principal
from clarion.throttling.errors import SEQUENCE_CODES, StateCodes

AUTHORING_FORMAT_VERSION = "1.0"


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal of a request and how this deployment numbers the state errors."""

    principal: Principal
    codes: StateCodes = SEQUENCE_CODES

    def schema(self, collection: str) -> str:
        """The ``schema`` errors name: ``<collection>$<sandbox>``."""
        return f"{collection}${self.principal.sandbox_name}"


def created(config: ConfigLifecycle, principal: Principal, now: datetime) -> None:
    """Stamp a new configuration."""
    config.state = config.authoring_state = "created"
    config.has_been_deployed = False
    config.created_by = config.created_by_id = principal.technical_account
    config.created_at = now
    modified(config, principal, now)


def modified(config: ConfigLifecycle, principal: Principal, now: datetime) -> None:
    """Record who changed the configuration, and when."""
    config.modified_by = config.modified_by_id = principal.technical_account
    config.modified_at = now


def updated(config: ConfigLifecycle, principal: Principal, now: datetime, *, live: bool) -> None:
    """After a PUT. ``live``: the new values run at once (throttling), so a deployed config stays deployed."""
    config.authoring_state = "updated"
    config.state = "deployed" if live and config.has_been_deployed else "updated"
    modified(config, principal, now)


def deployed(config: ConfigLifecycle, principal: Principal, now: datetime, snapshot: dict[str, Any]) -> None:
    """The configuration now runs with ``snapshot``."""
    config.state = "deployed"
    config.has_been_deployed = True
    config.deployed_config = snapshot
    config.deployed_by = config.deployed_by_id = principal.technical_account
    config.deployed_at = now


def undeployed(config: ConfigLifecycle) -> None:
    """Back to the authoring state; the caller decides what happens to the deployed snapshot."""
    config.state = config.authoring_state
    config.has_been_deployed = False


def metadata(config: ConfigLifecycle) -> dict[str, str]:
    """The ``metadata`` object: creation, last change and, once deployed, last deployment."""
    view = {
        "createdBy": config.created_by,
        "createdById": config.created_by_id,
        "lastModifiedBy": config.modified_by,
        "lastModifiedById": config.modified_by_id,
        "createdAt": iso_micro(config.created_at),
        "lastModifiedAt": iso_micro(config.modified_at),
    }
    if config.deployed_at is not None:
        view["lastDeployedBy"] = config.deployed_by or ""
        view["lastDeployedById"] = config.deployed_by_id or ""
        view["lastDeployedAt"] = iso_micro(config.deployed_at)
    return view


def response(kind: str, element: dict[str, Any], collection: str, verdict: dict[str, Any]) -> dict[str, Any]:
    """The create (``kind`` = created) or update (``updated``) answer around ``element``."""
    uid = element["uid"]
    return {
        f"{kind}Element": element,
        "uid": uid,
        "uri": f"/voyager/apis/{collection}/{uid}",
        "resStatus": kind,
        "canDeploy": verdict,
    }
