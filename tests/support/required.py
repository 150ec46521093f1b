"""A server the tests start themselves is missing from this machine: skip, except in CI
(REDSTAR_REQUIRE_SERVICES=1), where the Makefile should have installed it and the test fails."""

import os

import pytest


def missing_service(message: str):
    if os.environ.get("REDSTAR_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)
