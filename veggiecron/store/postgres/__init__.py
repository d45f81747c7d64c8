"""The PostgreSQL store: several veggiecron nodes sharing one database."""

from __future__ import annotations

from .accounts import PostgresAccounts
from .audit import PostgresAudit
from .calendars import PostgresCalendars
from .chains import PostgresChains
from .claims import PostgresClaims
from .jobs import PostgresJobs
from .nodes import PostgresNodes
from .oidc_keys import PostgresOidcKeys
from .runs import PostgresRuns
from .sealed import PostgresSealedValues
from .seed import PostgresSeedRecords
from .signing import PostgresSigningSecrets


class PostgresStore(
    PostgresClaims,
    PostgresJobs,
    PostgresChains,
    PostgresRuns,
    PostgresAccounts,
    PostgresSeedRecords,
    PostgresCalendars,
    PostgresAudit,
    PostgresNodes,
    PostgresSigningSecrets,
    PostgresOidcKeys,
    PostgresSealedValues,
):
    """Users, tokens, jobs, runs and Seed records in one PostgreSQL database, shared by several nodes
    (implements store.contract.Store and ClaimStore)."""


__all__ = ["PostgresStore"]
