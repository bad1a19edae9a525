import pytest
from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from onecity.settings import Settings
from tests.conftest import add_user, login, make_settings


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Example City (src/onecity/cities/example), with every domain module enabled."""
    return make_settings(db_url, city="example", modules="waste,roadworks")


@pytest.fixture
def admin(client: TestClient, platform: Platform) -> dict[str, str]:
    """Example City's administrator sits in its IT office ("it"; Taipei's is "doit")."""
    add_user(platform, "ex.admin", "admin", "it")
    return login(client, "ex.admin")
