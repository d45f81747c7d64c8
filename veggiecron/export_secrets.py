"""Secrets in the jobs file: what `export` writes for them, and what `import` makes of that.

An export writes each secret as {"secret": null} (a Seed schedule's auth_token too): the file
can be kept, mailed or committed without them. `--include-secrets` writes them in plain text
instead ({"secret": "value"}; an auth_token as its string), which an import stores sealed again.
An import leaves out a secret of no value, and says where.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .jobs_file import Entry
from .jobtypes.registry import DEFAULT_TYPE, JobTypes
from .model import Job, SeedFields
from .sealed import VERSION, SecretBox

UNKNOWN = {"secret": None}  # a secret the file does not hold


class Exporting:
    """Each job and its Seed fields as the file writes them."""

    def __init__(self, types: JobTypes, box: SecretBox, include_secrets: bool) -> None:
        self.types = types
        self.box = box
        self.include = include_secrets

    def job(self, job: Job) -> Job:
        return replace(job, data=self.types.map_secrets(job.type, job.data, self._secret))

    def token(self, stored: str) -> object:
        """A Seed auth_token as the file writes it (one stored before tokens were sealed is plain)."""
        if not self.include:
            return UNKNOWN
        return self.box.open(stored) if stored.startswith(VERSION) else stored

    def _secret(self, sealed: str) -> dict[str, Any]:
        return {"secret": self.box.open(sealed)} if self.include else UNKNOWN


def without_unknown_secrets(types: JobTypes, entry: Entry, notes: list[str]) -> dict[str, Any]:
    """The entry's fields without the secrets the file holds no value for; a note for each."""
    data = entry.fields.get("data")
    job_type = entry.fields.get("type", DEFAULT_TYPE)
    if not isinstance(data, dict) or not isinstance(job_type, str) or job_type not in types.names:
        return entry.fields  # the jobs service refuses what is wrong with them
    kept, where = types.without_unknown_secrets(job_type, data)
    notes.extend(_note(entry, place) for place in where)
    return {**entry.fields, "data": kept} if where else entry.fields


def seed_without_unknown_token(entry: Entry, notes: list[str]) -> dict[str, Any]:
    """The entry's Seed fields without an auth_token of no value; a note when there was one."""
    if entry.seed.get("auth_token") != UNKNOWN:
        return entry.seed
    notes.append(_note(entry, "seed.auth_token"))
    return {k: v for k, v in entry.seed.items() if k != "auth_token"}


def sealed_token(seed: SeedFields, box: SecretBox) -> SeedFields:
    return seed if seed.auth_token is None else replace(seed, auth_token=box.seal(seed.auth_token))


def _note(entry: Entry, place: str) -> str:
    name = f" {entry.name[:128]!r}" if isinstance(entry.name, str) else ""
    return (
        f"job {entry.number}{name}: {place} left out: the file holds no value for this secret "
        "(export --include-secrets writes them)"
    )
