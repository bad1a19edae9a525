from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from onecity.app import create_app
from onecity.bootstrap import seed_reference
from onecity.core.platform import Platform
from onecity.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, modules="roadworks")


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    p = Platform(settings)
    seed_reference(p)
    yield p
    p.db.dispose()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform.settings, platform)) as c:
        yield c
