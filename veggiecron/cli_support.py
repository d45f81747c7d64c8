"""What the `veggiecron` commands share: one line of failure, the event loop, the database's name."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from .config import Config

T = TypeVar("T")


def fail(message: str, code: int) -> int:
    print(f"veggiecron: {message}", file=sys.stderr)
    return code


def run(main_coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, on uvloop where it is installed (it roughly halves the cost of each request)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main_coroutine)
    return uvloop.run(main_coroutine)


def database_named(config: Config) -> tuple[str, bool]:
    """The configured database as messages name it (a PostgreSQL URL without its password), and
    whether it is a SQLite file that does not exist yet."""
    from .store.postgres.connection import redact

    if config.database:
        return redact(config.database), False
    path = Path(config.db_file).resolve()
    return str(path), not path.exists()
