"""``throttling_documented_codes`` numbers the three state errors as Adobe's page prints them (14466…)."""

from __future__ import annotations

import pytest

from clarion.config import Settings
from clarion.throttling.endpoints import PREFIXES
from tests.throttling.conftest import THROTTLING_BODY, Jo, jo_error


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"throttling_documented_codes": True})


@pytest.fixture
def prefix() -> str:
    return PREFIXES[1]


async def test_state_errors_use_the_documented_numbers(jo: Jo) -> None:
    missing = await jo.call("GET", "/throttlingConfigs/043a1aea-2dfd-4965-b93a-cb9a1eced0e6", expect=404)
    assert jo_error(missing)["code"] == 14467
    uid = (await jo.call("POST", "/throttlingConfigs", THROTTLING_BODY, expect=200)).json()["uid"]
    await jo.call("POST", f"/throttlingConfigs/{uid}/deploy", expect=204)
    again = await jo.call("POST", f"/throttlingConfigs/{uid}/deploy", expect=400)
    assert jo_error(again)["code"] == 14466
    # Codes outside the three keep their numbers.
    assert jo_error(await jo.call("POST", "/throttlingConfigs", THROTTLING_BODY, expect=400))["code"] == 1465


def test_default_is_the_sequence() -> None:
    assert Settings().throttling_documented_codes is False
