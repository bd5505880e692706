"""The static catalogue of connection specs and flow specs Clarion serves (contract §2.4), and its reads.

Ids are Adobe's where Adobe has one (SFTP, Amazon S3, the Profile store source), so an Adobe client's
requests work unchanged. Clarion's local-folder destination plays the role of Adobe's Data Landing Zone
and accepts that destination's ids as aliases, as well as the "segment" flow spec ids that
destinations.yaml's ``FlowSpec_V2`` lists for S3, SFTP and the Data Landing Zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from clarion.activation import listing
from clarion.activation.errors import FlowResourceNotFound
from clarion.kit.repository import require

DestinationKind = Literal["local", "sftp", "s3"]

PROVIDER_ID = "5562e349-b96e-4a22-903d-b0424f84c47b"
PROFILE_STORE_SPEC_ID = "8a9c3494-9708-43d7-ae3f-cda01e5030e1"
SFTP_SPEC_ID = "36965a81-b1c6-401b-99f8-22508f1e6a26"
SFTP_FLOW_SPEC_ID = "354d6aad-4754-46e4-a576-1b384561c440"
S3_SPEC_ID = "4fce964d-3f37-408f-9778-e597338a21ee"
S3_FLOW_SPEC_ID = "269ba276-16fc-47db-92b0-c1049a3c131f"
LOCAL_SPEC_ID = "7cbb2afc-04d6-4d4c-979b-65025c43dbc5"
LOCAL_FLOW_SPEC_ID = "5d7c08b2-1079-49e7-9384-19482062b54e"
DATA_LANDING_ZONE_SPEC_ID = "10440537-2a7b-4583-ac39-ed38d4b848e8"
DATA_LANDING_ZONE_FLOW_SPEC_ID = "cd2fc47e-e838-4f38-a581-8fff2f99b63a"

FILE_TYPES = ("CSV", "JSON", "PARQUET")
COMPRESSIONS = ("NONE", "GZIP")
CSV_OPTIONS: dict[str, tuple[str, ...]] = {
    "delimiter": (",", "\t", "|", ";", ":"),
    "quote": ('"', ""),
    "escape": ("\\", "'"),
    "nullValue": ("null", '""', ""),
    "emptyValue": ("null", '""', ""),
}
SORTABLE = ("id", "name")
"""The fields ``GET /connectionSpecs`` and ``GET /flowSpecs`` sort on."""
CSV_DEFAULTS = {"delimiter": ",", "quote": '"', "escape": "\\", "nullValue": "null", "emptyValue": ""}
"""destinations.yaml ``SegmentTargetConnectionParams_V2`` defaults, filled in for the exporter."""


@dataclass(frozen=True)
class Param:
    """One connection parameter: how it is checked (``kind``), and whether it is secret."""

    name: str
    kind: Literal["text", "port", "url", "fingerprint", "bucket", "folder", "relative", "enum", "csv"]
    description: str
    required: bool = False
    secret: bool = False
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        """The JSON-schema property the spec views show."""
        if self.kind == "port":
            return {"type": "integer", "minimum": 1, "maximum": 65535, "description": self.description}
        if self.kind == "csv":
            options = {name: {"type": "string", "enum": list(values)} for name, values in CSV_OPTIONS.items()}
            return {"type": "object", "properties": options, "description": self.description}
        prop: dict[str, Any] = {"type": "string", "description": self.description}
        if self.choices:
            prop["enum"] = list(self.choices)
        if self.secret:
            prop["format"] = "password"
        return prop


@dataclass(frozen=True)
class AuthSpec:
    """An authentication scheme of a connection spec (``auth.specName`` and its ``auth.params``)."""

    name: str
    type: str
    params: tuple[Param, ...]
    aliases: tuple[str, ...] = ()

    @property
    def secrets(self) -> frozenset[str]:
        """Names of the params stored sealed and never returned."""
        return frozenset(param.name for param in self.params if param.secret)

    def view(self) -> dict[str, Any]:
        """The ``authSpec`` item of a connection spec."""
        return {"name": self.name, "type": self.type, "spec": _object_schema(self.name, self.params)}


@dataclass(frozen=True)
class ConnectionSpec:
    """A connection spec: a destination (``kind`` local/sftp/s3) or the Profile store source."""

    id: str
    name: str
    kind: Literal["local", "sftp", "s3", "profile"]
    description: str
    auth_specs: tuple[AuthSpec, ...] = ()
    target_params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()

    def auth_spec(self, name: str) -> AuthSpec | None:
        """The auth spec named ``name`` (its own name or an accepted alias)."""
        return next((spec for spec in self.auth_specs if name == spec.name or name in spec.aliases), None)

    def view(self) -> dict[str, Any]:
        """The item of ``GET /connectionSpecs``."""
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "providerId": PROVIDER_ID,
            "version": "1.0",
            "authSpec": [spec.view() for spec in self.auth_specs],
        }
        if self.kind == "profile":
            body["sourceSpec"] = {"name": "ProfileFragments", "type": "ProfileFragments", "spec": {}}
            body["attributes"] = {"category": "profile", "isSource": True, "connectorName": self.name}
        else:
            body["targetSpec"] = {
                "name": self.name,
                "type": "CloudStorage",
                "spec": _object_schema(f"{self.name} target connection params", self.target_params),
            }
            body["attributes"] = {
                "category": "cloudStorage",
                "isDestination": True,
                "connectorName": self.name,
                "description": self.description,
                "aliases": list(self.aliases),
            }
        return body


@dataclass(frozen=True)
class FlowSpec:
    """A destination flow spec: Profile store → one destination connection spec."""

    id: str
    name: str
    target_spec_id: str
    aliases: tuple[str, ...] = field(default=())

    def view(self) -> dict[str, Any]:
        """The item of ``GET /flowSpecs``."""
        target = CONNECTION_SPECS[self.target_spec_id]
        return {
            "id": self.id,
            "name": self.name,
            "providerId": PROVIDER_ID,
            "version": "1.0",
            "sourceConnectionSpecIds": [PROFILE_STORE_SPEC_ID],
            "targetConnectionSpecIds": [self.target_spec_id, *target.aliases],
            "transformationSpecs": [{"name": "GeneralTransform", "spec": _TRANSFORMATION_SCHEMA}],
            "attributes": {"isDestinationFlow": True, "aliases": list(self.aliases)},
        }


_SEGMENT_PARAMS = (
    Param("fileType", "enum", "File format of the exported profiles", required=True, choices=FILE_TYPES),
    Param("compression", "enum", "Compression of the exported files", required=True, choices=COMPRESSIONS),
    Param("csvOptions", "csv", "CSV formatting options (fileType CSV only)"),
)
_SFTP_SERVER = (
    Param("domain", "text", "IP address or domain name of the SFTP server", required=True, aliases=("host",)),
    Param("port", "port", "SSH port (default 22)"),
    Param("username", "text", "User name on the SFTP server", required=True, aliases=("userName",)),
    Param("hostKeyFingerprint", "fingerprint", "Clarion: expected server key, 'SHA256:…' as ssh-keygen -lf"),
)
_SFTP_PASSWORD = AuthSpec(
    "SFTP with Password",
    "BasicAuthentication",
    (*_SFTP_SERVER, Param("password", "text", "Password of the SFTP user", required=True, secret=True)),
    aliases=("Basic Authentication for sftp",),
)
_SFTP_SSH_KEY = AuthSpec(
    "SFTP with SSH Key",
    "SSHKeyAuthentication",
    (
        *_SFTP_SERVER,
        Param("sshKey", "text", "Private key (unencrypted), base64 or PEM text", required=True, secret=True),
    ),
    aliases=("SSH PublicKey Authentication for sftp",),
)
_S3_ACCESS_KEY = AuthSpec(
    "Access Key",
    "KeyBased",
    (
        Param("s3AccessKey", "text", "Access key id", required=True, aliases=("accessId",)),
        Param("s3SecretKey", "text", "Secret access key", required=True, secret=True, aliases=("secretKey",)),
        Param("endpointUrl", "url", "Clarion: http(s) URL of an S3-compatible service (default AWS)"),
        Param("region", "text", "Clarion: region of the bucket"),
    ),
)

CONNECTION_SPECS: dict[str, ConnectionSpec] = {
    spec.id: spec
    for spec in (
        ConnectionSpec(
            SFTP_SPEC_ID,
            "SFTP",
            "sftp",
            "Export files to a folder of an SFTP server",
            auth_specs=(_SFTP_PASSWORD, _SFTP_SSH_KEY),
            target_params=(
                Param("remotePath", "folder", "Folder on the server for the exported files", required=True),
                *_SEGMENT_PARAMS,
            ),
        ),
        ConnectionSpec(
            S3_SPEC_ID,
            "Amazon S3",
            "s3",
            "Export files to a bucket of Amazon S3 or an S3-compatible service",
            auth_specs=(_S3_ACCESS_KEY,),
            target_params=(
                Param("bucketName", "bucket", "Bucket that receives the files", required=True),
                Param("path", "folder", "Folder (key prefix) in the bucket", required=True),
                Param("mode", "enum", "Connection mode", choices=("Server-to-server",)),
                *_SEGMENT_PARAMS,
            ),
        ),
        ConnectionSpec(
            LOCAL_SPEC_ID,
            "Local folder (Clarion)",
            "local",
            "Export files to a folder under Clarion's landing zone (the role of Adobe's Data Landing Zone)",
            target_params=(
                Param("path", "relative", "Folder relative to the landing zone (default: its root)"),
                *_SEGMENT_PARAMS,
            ),
            aliases=(DATA_LANDING_ZONE_SPEC_ID,),
        ),
        ConnectionSpec(
            PROFILE_STORE_SPEC_ID,
            "Profile Store",
            "profile",
            "Profiles and audience memberships of the sandbox (the source of destination dataflows)",
        ),
    )
}

FLOW_SPECS: dict[str, FlowSpec] = {
    spec.id: spec
    for spec in (
        FlowSpec(SFTP_FLOW_SPEC_ID, "SFTP", SFTP_SPEC_ID, aliases=("fd36aaa4-bf2b-43fb-9387-43785eeeb799",)),
        FlowSpec(S3_FLOW_SPEC_ID, "Amazon S3", S3_SPEC_ID, aliases=("1a0514a6-33d4-4c7f-aff8-594799c47549",)),
        FlowSpec(
            LOCAL_FLOW_SPEC_ID,
            "Local folder (Clarion)",
            LOCAL_SPEC_ID,
            aliases=(DATA_LANDING_ZONE_FLOW_SPEC_ID, "7e635b9f-e59b-4546-8ba8-fce6496693c8"),
        ),
    )
}

_CONNECTION_ALIASES = {alias: spec for spec in CONNECTION_SPECS.values() for alias in spec.aliases}
_FLOW_ALIASES = {alias: spec for spec in FLOW_SPECS.values() for alias in spec.aliases}


def connection_spec(spec_id: str) -> ConnectionSpec | None:
    """The connection spec with this id or alias."""
    return CONNECTION_SPECS.get(spec_id) or _CONNECTION_ALIASES.get(spec_id)


def flow_spec(spec_id: str) -> FlowSpec | None:
    """The flow spec with this id or alias."""
    return FLOW_SPECS.get(spec_id) or _FLOW_ALIASES.get(spec_id)


def destination_kind(connection_spec_id: str) -> DestinationKind | None:
    """``local``, ``sftp`` or ``s3`` for a destination connection spec id (or alias); None otherwise."""
    spec = connection_spec(connection_spec_id)
    if spec is None or spec.kind == "profile":
        return None
    return spec.kind


def connection_spec_page(query: listing.ListQuery, path: str) -> dict[str, Any]:
    """``GET /connectionSpecs``: every connection spec, filtered, sorted and paged as the query asks."""
    return _page([spec.view() for spec in CONNECTION_SPECS.values()], query, path)


def flow_spec_page(query: listing.ListQuery, path: str) -> dict[str, Any]:
    """``GET /flowSpecs``: every flow spec, filtered, sorted and paged as the query asks."""
    return _page([spec.view() for spec in FLOW_SPECS.values()], query, path)


def connection_spec_item(spec_id: str) -> dict[str, Any]:
    """``{"items": [spec]}`` for a connection spec id or alias, or the Flow Service 404."""
    spec = require(connection_spec(spec_id), FlowResourceNotFound("connectionSpecs", spec_id))
    return {"items": [spec.view()]}


def flow_spec_item(spec_id: str) -> dict[str, Any]:
    """``{"items": [spec]}`` for a flow spec id or alias, or the Flow Service 404."""
    spec = require(flow_spec(spec_id), FlowResourceNotFound("flowSpecs", spec_id))
    return {"items": [spec.view()]}


def _page(views: list[dict[str, Any]], query: listing.ListQuery, path: str) -> dict[str, Any]:
    matching = [view for view in views if all(listing.matches(view, rule) for rule in query.filters)]
    order = query.order
    if order is not None:
        if order.field not in SORTABLE:
            raise listing.unknown_order_field(order, dict.fromkeys(SORTABLE))
        matching.sort(key=lambda view: str(view[order.field]), reverse=order.descending)
    if query.count:
        return {"count": len(matching)}
    items = matching[query.offset : query.offset + query.limit]
    return {
        "items": items,
        "_links": listing.page_links(path, query, returned=len(items), total=len(matching)),
    }


def _object_schema(description: str, params: Iterable[Param]) -> dict[str, Any]:
    params = tuple(params)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "description": description,
        "properties": {param.name: param.schema() for param in params},
        "required": [param.name for param in params if param.required],
    }


_TRANSFORMATION_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "description": "Audiences (segment selectors) and profile attributes exported by the dataflow",
    "properties": {
        "segmentSelectors": {"type": "object", "properties": {"selectors": {"type": "array"}}},
        "profileSelectors": {"type": "object", "properties": {"selectors": {"type": "array"}}},
        "profileMapping": {"type": "object"},
        "mandatoryFields": {"type": "array", "items": {"type": "string"}},
        "primaryFields": {"type": "array", "items": {"type": "object"}},
    },
}
