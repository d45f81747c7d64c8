"""Fixtures of the dashboard's tests: a server with two users, and a cookie-keeping client for each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.helpers import Api
from tests.ui.client import Dashboard
from veggiecron.app import Server

PASSWORD = "s3cret-pass"


@pytest.fixture
async def base_url(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def alice(base_url: str, api: Api) -> AsyncIterator[Dashboard]:
    """Alice, registered through the API and logged in to the dashboard."""
    await api.register_and_login("alice", PASSWORD)
    dashboard = Dashboard(base_url)
    page = await dashboard.login("alice", PASSWORD)
    assert page.status == 303, page.text
    yield dashboard
    await dashboard.close()


@pytest.fixture
async def anonymous(base_url: str) -> AsyncIterator[Dashboard]:
    dashboard = Dashboard(base_url)
    yield dashboard
    await dashboard.close()
