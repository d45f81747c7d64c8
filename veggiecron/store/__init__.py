"""Persistence behind one contract. The stores are the only places with SQL."""

from .contract import (
    AccountStore,
    Database,
    DueWindow,
    JobStore,
    RunHistory,
    SchemaTooNew,
    SeedStore,
    Store,
)

__all__ = [
    "AccountStore",
    "Database",
    "DueWindow",
    "JobStore",
    "RunHistory",
    "SchemaTooNew",
    "SeedStore",
    "Store",
]
