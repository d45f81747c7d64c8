"""Persistence. The store is the only place with SQL; callers use its named methods."""

from .sqlite import SqliteStore

__all__ = ["SqliteStore"]
