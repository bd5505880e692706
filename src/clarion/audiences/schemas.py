"""Request bodies of the Segmentation API (``/data/core/ups``); answers are built in ``views.py``.

Bodies ignore unknown fields: Adobe's own examples send read-only fields back (``id``, ``creationTime`` …
in a PATCH), and a client written against Adobe must keep working.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field

PROFILE_SCHEMA = "_xdm.context.profile"
"""The only schema class Clarion segments (profiles)."""
MAX_BULK_IDS = 1000
"""Ids one bulk-get may ask for."""


class Body(BaseModel):
    """Wire names as Adobe spells them (camelCase aliases), unknown fields ignored."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class ExpressionIn(Body):
    """``{type: "PQL", format: "pql/text" | "pql/json", value}``; a pql/json value: string or object."""

    type: Literal["PQL"]
    format: Literal["pql/text", "pql/json"]
    value: str | dict[str, Any] = Field(min_length=1)


class Toggle(Body):
    """``{"enabled": bool}``."""

    enabled: bool = False


class EvaluationInfoIn(Body):
    """How the audience is evaluated; the daily schedule and ``"*"`` jobs run ``batch`` audiences."""

    batch: Toggle | None = None
    continuous: Toggle | None = None
    synchronous: Toggle | None = None


class SchemaRef(Body):
    """``{"name": "_xdm.context.profile"}``."""

    name: str = Field(min_length=1, max_length=128)


class SegmentDefinitionCreate(Body):
    """``POST /segment/definitions``."""

    name: str = Field(min_length=1, max_length=512)
    description: str = Field(default="", max_length=4096)
    expression: ExpressionIn
    schema_: SchemaRef = Field(alias="schema")
    evaluation_info: EvaluationInfoIn | None = Field(default=None, alias="evaluationInfo")
    profile_instance_id: str = Field(default="ups", alias="profileInstanceId", min_length=1, max_length=64)
    payload_schema: str | None = Field(default=None, alias="payloadSchema", max_length=128)


class SegmentDefinitionUpdate(Body):
    """``PATCH /segment/definitions/{id}``: the fields given replace the stored ones."""

    name: str | None = Field(default=None, min_length=1, max_length=512)
    description: str | None = Field(default=None, max_length=4096)
    expression: ExpressionIn | None = None
    schema_: SchemaRef | None = Field(default=None, alias="schema")
    evaluation_info: EvaluationInfoIn | None = Field(default=None, alias="evaluationInfo")
    profile_instance_id: str | None = Field(
        default=None, alias="profileInstanceId", min_length=1, max_length=64
    )
    payload_schema: str | None = Field(default=None, alias="payloadSchema", max_length=128)


class IdRef(Body):
    """``{"id": "…"}``."""

    id: str = Field(min_length=1, max_length=64)


class BulkGet(Body):
    """``POST …/bulk-get`` body: ``{"ids": [{"id": …}, …]}``."""

    ids: list[IdRef] = Field(min_length=1, max_length=MAX_BULK_IDS)


class SegmentRef(Body):
    """One item of a segment job request: ``{"segmentId": …}`` (``"*"`` = every batch audience)."""

    segment_id: str = Field(alias="segmentId", min_length=1, max_length=64)


class SegmentJobsObject(Body):
    """The object form of a job request (documented for "more than 1500 segments"): ``{schema, segments}``."""

    schema_: SchemaRef | None = Field(default=None, alias="schema")
    segments: list[SegmentRef] = Field(min_length=1, max_length=MAX_BULK_IDS)


SegmentJobCreate = (
    Annotated[list[SegmentRef], Field(min_length=1, max_length=MAX_BULK_IDS)] | SegmentJobsObject
)
"""``POST /segment/jobs``: ``[{"segmentId": …}]`` or ``{"segments": [{"segmentId": "*"}]}``."""


class EvaluateJob(msgspec.Struct, frozen=True):
    """Payload of the ``audiences.evaluate`` task: which segment job, of which organization and sandbox."""

    jobId: str
    orgId: str
    sandboxId: str


MAX_PREVIEW_EXPRESSION = 65536
"""Characters of an unsaved expression a preview or a validation accepts."""


class PreviewCreate(Body):
    """``POST /preview`` (``CreatePreviewRequest``): an unsaved expression to evaluate against profiles."""

    predicate_expression: str = Field(
        alias="predicateExpression", min_length=1, max_length=MAX_PREVIEW_EXPRESSION
    )
    predicate_type: Literal["pql/text", "pql/json"] = Field(default="pql/text", alias="predicateType")
    predicate_model: str = Field(default=PROFILE_SCHEMA, alias="predicateModel", min_length=1, max_length=128)
    graph_type: Literal["pdg", "none"] = Field(default="none", alias="graphType")


class PqlCheckRequest(Body):
    """``POST /v1/audiences/pql:validate``: the expression object of a segment definition."""

    expression: ExpressionIn


class Answer(BaseModel):
    """A response body: serialized with Adobe's camelCase names."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class PreviewQuery(Answer):
    """``PreviewQueryResponse``: the preview job just created (Clarion evaluates at once: RESULT_READY)."""

    preview_query_id: str = Field(alias="previewQueryId")
    state: str
    preview_query_status: str = Field(alias="previewQueryStatus")
    preview_id: str = Field(alias="previewId")
    preview_execution_id: int = Field(alias="previewExecutionId")


class RelatedObject(Answer):
    """``IndividualPreview``: one identity of a matching profile, with the profile's address."""

    object_id: str = Field(alias="objectId")
    href: str = Field(alias="_href")


class PreviewResult(Answer):
    """``PreviewResults``: a matching profile (its id) and its identities."""

    object_id: str = Field(alias="objectId")
    href: str = Field(alias="_href")
    related_objects: list[RelatedObject] = Field(alias="relatedObjects")


class PreviewPage(Answer):
    """Where this page of a preview's results starts, its size and the limit asked for."""

    offset: int
    size: int
    limit: int


class PreviewResults(Answer):
    """``PreviewResponse``: one page of the profiles the preview's expression matches."""

    state: str
    page: PreviewPage
    link: str = Field(description="The next page of results; empty on the last page")
    results: list[PreviewResult]


class NamespaceCount(Answer):
    """Matching profiles holding an identity in one namespace."""

    namespace_id: str = Field(alias="namespaceId")
    profiles_matched_so_far: int = Field(alias="profilesMatchedSoFar")


class EstimateError(Answer):
    """``error`` of an estimate: empty, Clarion's estimates are exact counts."""

    description: str = ""
    traceback: str = ""


class PreviewLink(Answer):
    """``_links`` of an estimate: its preview job."""

    preview: str


class Estimate(Answer):
    """``EstimateResponse``: the audience size of a preview's expression — an exact count, not a sample."""

    state: str
    estimated_size: int = Field(alias="estimatedSize")
    profiles_matched_so_far: int = Field(alias="profilesMatchedSoFar")
    profiles_read_so_far: int = Field(alias="profilesReadSoFar")
    num_rows_to_read: int = Field(alias="numRowsToRead")
    total_rows: int = Field(alias="totalRows")
    standard_error: int = Field(alias="standardError")
    confidence_interval: str = Field(alias="confidenceInterval")
    estimated_namespace_distribution: list[NamespaceCount] = Field(alias="estimatedNamespaceDistribution")
    error: EstimateError
    links: PreviewLink = Field(alias="_links")


class PqlProblem(Answer):
    """Where and why an expression is invalid: 0-based ``position``, 1-based ``line`` and ``column``."""

    message: str
    kind: str = Field(description="Unexpected token, Type error on, Unsupported or Invalid JSON")
    token: str = Field(description="The construct at fault (a token, or a pql/json node name)")
    position: int
    line: int
    column: int


class PqlCheck(Answer):
    """The verdict on an expression: valid with the attribute paths it reads, or the first problem."""

    valid: bool
    problem: PqlProblem | None = None
    paths: list[str] = Field(default_factory=list, description="Attribute paths read, dotted")
