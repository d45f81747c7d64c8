"""Where secrets are stored sealed (sealed.py), for the start's key check and rotate-secrets-key.

Two kinds: columns holding one sealed value a row (SEALED_COLUMNS; a value stored before its
column was sealed is plain text, told apart by the missing `v1:`), and the jobs' data, whose
secrets only the job's type can find (JobTypes.map_secrets).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .sealed import VERSION, SecretBox

if TYPE_CHECKING:
    from .jobtypes.registry import JobTypes


@dataclass(frozen=True)
class SealedColumn:
    table: str
    key: str  # the row's primary key
    column: str  # one sealed value (or NULL) a row


# Every column of one sealed value a row. A table added to hold more secrets appends its column
# here: the start checks it and rotate-secrets-key re-encrypts it with the rest.
SEALED_COLUMNS: list[SealedColumn] = [
    SealedColumn("signing_secrets", "id", "secret"),
    SealedColumn("seed_schedules", "job_id", "auth_token"),
    SealedColumn("oidc_keys", "id", "private_key"),
]


@dataclass(frozen=True)
class SealedSample:
    """One sealed value of each column that holds any, and one job's data holding a secret."""

    values: list[str]
    job: tuple[str, dict[str, Any]] | None  # (type, data)


class SealedValueStore(Protocol):
    async def sealed_sample(self, columns: Sequence[SealedColumn]) -> SealedSample:
        """A sealed value (`v1:...`) of each column that has one, and a job whose data holds one."""

    async def reseal(
        self,
        columns: Sequence[SealedColumn],
        value: Callable[[str], str],
        job_data: Callable[[str, dict[str, Any]], dict[str, Any]],
    ) -> int:
        """In one transaction: every non-NULL value of the columns replaced by value(it), every
        job's data that holds a secret by job_data(type, data); answer how many values changed."""


async def check_secrets_key(store: SealedValueStore, types: JobTypes, box: SecretBox) -> None:
    """Raise WrongSecretsKey when this key cannot open the stored secrets (the start refuses)."""
    sample = await store.sealed_sample(SEALED_COLUMNS)
    for sealed in sample.values:
        box.open(sealed)
    if sample.job is not None:
        for sealed in types.sealed_in(*sample.job):
            box.open(sealed)


def resealer(old: SecretBox, new: SecretBox) -> Callable[[str], str]:
    """A stored value under the new key: a sealed one opened with the old key and sealed again,
    a plain one (stored before its column was sealed) sealed."""

    def reseal(stored: str) -> str:
        return new.seal(old.open(stored) if stored.startswith(VERSION) else stored)

    return reseal
