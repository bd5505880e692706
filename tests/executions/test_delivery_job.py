"""The delivery job an accepted request becomes: a ``DeliveryJob`` whose JSON has exactly the keys jobs had
when they were plain dicts (queued jobs and stored payloads must read the same across an upgrade)."""

from __future__ import annotations

from typing import Any

import msgspec

from clarion.campaigns.schemas import CampaignSnapshot
from clarion.delivery.service import QUEUE, SEND_TASK
from clarion.executions.schemas import AepRecipient, ChannelData, ExecutionRequest, ExternalRecipient
from clarion.executions.service import delivery_job
from clarion.tenancy.principal import job_principal

PRINCIPAL = job_principal("org-1", "sbx-1")
SNAPSHOT = CampaignSnapshot(
    id="cmp-1",
    status="Live",
    start_date=None,
    end_date=None,
    high_throughput=True,
    channel="email",
    version=3,
    create_new_profile=False,
    identity_namespace="email",
)
HEADER = {
    "org": "org-1",
    "sandbox": "sbx-1",
    "campaign": "cmp-1",
    "version": 3,
    "channel": "email",
    "execution": "exe-1",
    "requestId": "req-1",
    "acceptedAt": "2026-01-02T03:04:05.678Z",
}


def encoded(request: ExecutionRequest, **options: Any) -> dict[str, Any]:
    spec = delivery_job(
        PRINCIPAL,
        request,
        SNAPSHOT,
        execution="exe-1",
        accepted_at="2026-01-02T03:04:05.678Z",
        dedupe_seconds=0.0,
        **{"profiles": None, **options},
    )
    assert (spec.task, spec.queue, spec.job_id) == (SEND_TASK, QUEUE, "exe-1")
    document: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(spec.payload))
    return document


def test_high_throughput_job_has_only_the_keys_it_needs() -> None:
    request = ExecutionRequest(
        "req-1",
        "cmp-1",
        [
            ExternalRecipient(userId="ada@example.com", namespace="email", context={"order": {"id": "A-1"}}),
            ExternalRecipient(
                userId="bob", namespace="crm", channelData=ChannelData(emailAddress="b@x.example")
            ),
        ],
    )
    document = encoded(request)

    assert document == {
        **HEADER,
        "recipients": [
            {
                "index": 0,
                "userId": "ada@example.com",
                "namespace": "email",
                "context": {"order": {"id": "A-1"}},
            },
            {
                "index": 1,
                "userId": "bob",
                "namespace": "crm",
                # channelData carries every field, unset ones null, as it always did
                "channelData": {"emailAddress": "b@x.example", "mobilePhoneNumber": None, "pushInfo": None},
            },
        ],
    }
    assert list(document) == [*HEADER, "recipients"]
    assert list(document["recipients"][1]) == ["index", "userId", "namespace", "channelData"]


def test_standard_job_carries_merged_profiles_and_the_shared_context() -> None:
    request = ExecutionRequest(
        "req-1",
        "cmp-1",
        [
            AepRecipient(userId="u1", namespace="crm", profile={"person": {"name": {"firstName": "Ada"}}}),
            AepRecipient(userId="u2", namespace="crm", context={"note": "own"}),
        ],
    )
    stored = {"u1": {"person": {"name": {"lastName": "L"}}, "city": "Paris"}}
    document = encoded(
        request, profiles=stored, shared_context={"note": "shared", "campaign": "x"}, first_index=20
    )

    assert document["recipients"] == [
        {
            "index": 20,
            "userId": "u1",
            "namespace": "crm",
            "context": {"note": "shared", "campaign": "x"},
            "profile": {"person": {"name": {"lastName": "L", "firstName": "Ada"}}, "city": "Paris"},
        },
        {
            "index": 21,
            "userId": "u2",
            "namespace": "crm",
            "context": {"note": "own", "campaign": "x"},
            "profile": {},  # standard mode: an unknown profile is an empty one, still present
        },
    ]
