"""Persistence behind one contract. The stores are the only places with SQL."""

from .contract import (
    AccountStore,
    AuditLog,
    CalendarStore,
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
