"""The SQLite store: the embedded default, one daemon on one file."""

from __future__ import annotations

from .accounts import SqliteAccounts
from .audit import SqliteAudit
from .calendars import SqliteCalendars
from .chains import SqliteChains
from .jobs import SqliteJobs
from .oidc_keys import SqliteOidcKeys
from .runs import SqliteRuns
from .sealed import SqliteSealedValues
from .seed import SqliteSeedRecords
from .signing import SqliteSigningSecrets


class SqliteStore(
    SqliteJobs,
    SqliteChains,
    SqliteRuns,
    SqliteAccounts,
    SqliteSeedRecords,
    SqliteCalendars,
    SqliteAudit,
    SqliteSigningSecrets,
    SqliteOidcKeys,
    SqliteSealedValues,
):
    """Users, tokens, jobs, runs and Seed records in one SQLite file (implements store.contract.Store)."""


__all__ = ["SqliteStore"]
