"""Profiles: the sandbox's list, and a profile looked up by identity (namespace + value) with its attributes
and audience memberships."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from clarion.console.pages.segment_jobs import audience_names
from clarion.console.web import ApiDep, render

router = APIRouter()

PAGE_SIZE = 50


@router.get("/profiles")
async def profiles(request: Request, api: ApiDep, namespace: str = "", offset: int = 0) -> Response:
    """The sandbox's profiles, oldest first, optionally only those with an identity in ``namespace``."""
    offset = max(offset, 0)
    page = await api.read("/v1/profiles", limit=PAGE_SIZE, offset=offset, namespace=namespace or None)
    return render(
        request,
        "audiences/profiles.html",
        title="Profiles",
        profiles=page["items"],
        total=page["total"],
        namespace_filter=namespace,
        offset=offset,
        limit=PAGE_SIZE,
    )


@router.get("/profiles/lookup")
async def profile(request: Request, api: ApiDep, namespace: str = "", identity: str = "") -> Response:
    """The profile owning an identity; the lookup form again, with the API's answer, when there is none."""
    if not (namespace.strip() and identity.strip()):
        return render(
            request,
            "audiences/profile.html",
            title="Look up a profile",
            lookup_namespace=namespace,
            lookup_identity=identity,
            profile=None,
            problem=None,
        )
    path = f"/v1/profiles/{quote(namespace.strip(), safe='')}/{quote(identity.strip(), safe='')}"
    answer = await api.call("GET", path)
    if answer.problem is not None:
        return render(
            request,
            "audiences/profile.html",
            answer.problem.status,
            title="Look up a profile",
            lookup_namespace=namespace,
            lookup_identity=identity,
            profile=None,
            problem=answer.problem,
        )
    found = answer.body
    memberships = found["segmentMembership"].get("ups", {})
    return render(
        request,
        "audiences/profile.html",
        title=f"Profile {namespace}:{identity}",
        lookup_namespace=namespace,
        lookup_identity=identity,
        profile=found,
        attributes=sorted(flatten(found["attributes"])),
        memberships=memberships,
        names=await audience_names(api, memberships),
        problem=None,
    )


def flatten(document: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted path, JSON text)`` of every leaf of an attributes document (lists are leaves)."""
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from flatten(value, f"{path}.")
        else:
            yield path, json.dumps(value, ensure_ascii=False)
