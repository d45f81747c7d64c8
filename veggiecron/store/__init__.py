"""Persistence behind one contract. The stores are the only places with SQL."""

from .contract import (
    AccountStore,
    AuditLog,
    CalendarStore,
    ChainStore,
    ClaimStore,
    Database,
    DatabaseRefused,
    DueWindow,
    JobStore,
    Listening,
    RunHistory,
    SchemaTooNew,
    SeedStore,
    Store,
)

__all__ = [
    "AccountStore",
    "CalendarStore",
    "ChainStore",
    "AuditLog",
    "ClaimStore",
    "Database",
    "DatabaseRefused",
    "DueWindow",
    "JobStore",
    "Listening",
    "RunHistory",
    "SchemaTooNew",
    "SeedStore",
    "Store",
]
