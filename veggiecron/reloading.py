"""The books of store rows a server holds in memory (calendars, signing secrets, OIDC keys),
reloaded on a timer: another node, or a command such as rotate-keys, may have changed the rows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def keep_reloading(load: Callable[[], Awaitable[None]], interval: float, what: str) -> None:
    """Call load() every `interval` seconds, for ever; a failed load keeps what the book holds."""
    while True:
        await asyncio.sleep(interval)
        try:
            await load()
        except Exception:  # the store is away for a moment: the book keeps what it holds
            logger.warning("%s could not be reloaded; kept the ones held", what, exc_info=True)
