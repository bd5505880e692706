"""Import profiles from a JSON lines file, in the browser: the activation quick start's first step without
the CLI. Each line is one item of ``POST /v1/profiles:batch`` (``{"identities": …, "attributes": …}``); the
file is sent in batches of 1,000 through the API, and every refused line is reported with its number and
the API's reason while the rest is stored (as ``clarion profiles import`` does)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from clarion.console.api import ApiProblem, ConsoleApi
from clarion.console.web import ApiDep, render

router = APIRouter()

BATCH = 1000
"""Items per ``POST /v1/profiles:batch`` (the API's maximum)."""
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
"""Larger files belong to ``clarion profiles import`` (streamed from disk, with a progress bar)."""
SHOWN_REFUSALS = 50


@dataclass
class ImportReport:
    """What became of an uploaded file: counts, and the refused lines (the first ``SHOWN_REFUSALS``)."""

    created: int = 0
    updated: int = 0
    refused: int = 0
    refusals: list[tuple[int, str]] = field(default_factory=list)
    stopped: ApiProblem | None = None

    def refuse(self, line: int, reason: str) -> None:
        """Count a refused line; keep its reason while the list is short."""
        self.refused += 1
        if len(self.refusals) < SHOWN_REFUSALS:
            self.refusals.append((line, reason))


@router.get("/profiles/import")
async def import_form(request: Request, api: ApiDep) -> Response:
    """The upload form."""
    return render(request, "profiles/import.html", title="Import profiles")


@router.post("/profiles/import")
async def import_file(request: Request, api: ApiDep) -> Response:
    """Send the uploaded file's lines to the API in batches; show what was stored and what was refused."""
    form = await request.form(max_part_size=MAX_UPLOAD_BYTES)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        problem = ApiProblem(400, "Choose a JSON lines file (.jsonl or .jsonl.gz).", {}, field="file")
        return render(request, "profiles/import.html", 400, title="Import profiles", problem=problem)
    if (upload.size or 0) > MAX_UPLOAD_BYTES:
        message = f"The file is over {MAX_UPLOAD_BYTES // 2**20} MB: use clarion profiles import instead."
        problem = ApiProblem(413, message, {}, field="file")
        return render(request, "profiles/import.html", 413, title="Import profiles", problem=problem)
    report = await send_lines(api, _lines(upload.file, gzipped=upload.filename.endswith(".gz")))
    return render(
        request, "profiles/import.html", title="Import profiles", report=report, filename=upload.filename
    )


async def send_lines(api: ConsoleApi, lines: Iterator[tuple[int, str]]) -> ImportReport:
    """Parse each line, send full batches, and tally the API's per-item answers."""
    report = ImportReport()
    batch: list[tuple[int, Any]] = []
    for number, text in lines:
        if not text.strip():
            continue
        try:
            batch.append((number, json.loads(text)))
        except ValueError as error:
            report.refuse(number, f"not JSON: {error}")
            continue
        if len(batch) == BATCH:
            if not await _send(api, batch, report):
                return report
            batch = []
    if batch:
        await _send(api, batch, report)
    return report


async def _send(api: ConsoleApi, batch: list[tuple[int, Any]], report: ImportReport) -> bool:
    answer = await api.send("POST", "/v1/profiles:batch", {"profiles": [item for _, item in batch]})
    if answer.problem is not None:
        report.stopped = answer.problem  # the whole batch refused (role, outage): stop, say where
        return False
    for result in answer.body["results"]:
        line = batch[result["index"]][0]
        if result["status"] == 201:
            report.created += 1
        elif result["status"] == 200:
            report.updated += 1
        else:
            report.refuse(line, result.get("error") or f"refused ({result['status']})")
    return True


def _lines(file: IO[bytes], *, gzipped: bool) -> Iterator[tuple[int, str]]:
    if gzipped:
        with gzip.open(file, "rt", encoding="utf-8", errors="replace") as text:
            yield from enumerate(text, start=1)
    else:
        yield from enumerate((line.decode("utf-8", errors="replace") for line in file), start=1)
