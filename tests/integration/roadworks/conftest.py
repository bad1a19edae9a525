"""The road works module mounted; the root conftest's platform and client use these settings."""

from __future__ import annotations

import pytest

from onecity.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, modules="roadworks")
