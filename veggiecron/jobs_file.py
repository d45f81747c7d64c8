"""The jobs file: all of a user's jobs as one JSON document (`veggiecron export` writes it, `import` reads it).

Version 1 holds, for each job, what its owner set (the native API's fields, max_runs and
keep_failures, and a Seed schedule's own fields) and the little progress that decides how it
goes on: where its interval grid starts (`anchor`), whether it has no run left (`finished`),
its run count towards max_runs, its failure streak and why it paused itself. It holds no next
run time: an imported job resumes on its grid from the moment of the import. Run history,
failed tasks, webhooks, ids and creation times are not part of it.

Reading a file checks its shape here (format, version, the fields of the file's own parts);
what a job's fields mean is checked by the jobs service, as for a request (see export_import).
"""

from __future__ import annotations

import math
import uuid as uuid_module
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from .errors import Invalid
from .job_fields import CREATE_FIELDS, parse_bool
from .model import Job, SeedFields
from .policies import POLICY_FIELDS
from .times import iso_utc_millis

FORMAT = "veggiecron-jobs"
VERSION = 1
DOCUMENT_FIELDS = ("format", "version", "exported_at", "username", "jobs")
# A job in the file: the native API's fields as POST /job takes them, then what only the
# file carries. A field added to the API is accepted here at once; job_entry writes it.
JOB_FIELDS = (*CREATE_FIELDS, "max_runs", "keep_failures", "seed", "progress")
SEED_FIELDS = ("uuid", "cron_definition", "interval_definition", "endpoint", "auth_token", "payload")
PROGRESS_FIELDS = ("anchor", "finished", "run_count", "consecutive_failures", "paused_reason")
MAX_COUNT = 2**31 - 1
MAX_REASON = 1000


class Refused(Exception):
    """The file, or one job in it, cannot be imported (so nothing is); the message is one line."""

    def __init__(self, description: str, number: int | None = None, name: object = None, field: str | None = None):
        where = ""
        if number is not None:
            where = f"job {number}" + (f" {name[:128]!r}" if isinstance(name, str) else "") + ": "
        if field:
            where += f"{field}: "
        super().__init__(where + " ".join(description.split()))
        self.field = field


@dataclass(frozen=True)
class Carried:
    """A job's progress as the file carries it (defaults: a job created now)."""

    # Where the interval grid starts (and `every N days` counts from); None: at the import. One
    # later than the import (the exporting machine's clock ahead) is taken as the import time.
    anchor: float | None = None
    finished: bool = False
    run_count: int = 0
    consecutive_failures: int = 0
    paused_reason: str | None = None


@dataclass(frozen=True)
class Entry:
    """One job of a file, its shape checked; `fields` are the native API's, as given."""

    number: int  # its place in the file, from 1
    name: object
    fields: dict[str, Any]
    max_runs: object
    keep_failures: bool
    seed_uuid: str | None  # a Seed schedule's id; its other fields are in `seed`
    seed: dict[str, Any]
    progress: Carried


def dump(
    username: str,
    jobs: Sequence[tuple[Job, SeedFields | None]],
    now: float,
    token: Callable[[str], object] = lambda stored: stored,
) -> bytes:
    """The document of these jobs of the user, exported at `now`; token(a Seed auth_token as
    stored) is what the file writes for it (see export_secrets)."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": iso_utc_millis(now),
        "username": username,
        "jobs": [job_entry(job, seed, token) for job, seed in jobs],
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def job_entry(
    job: Job, seed: SeedFields | None, token: Callable[[str], object] = lambda stored: stored
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": job.name,
        "type": job.type,
        "data": job.data,
        "schedule": job.schedule,
        "timezone": job.timezone,
        "enabled": job.enabled,
        "tags": list(job.tags),
        **{key: job.policy.get(key) for key in POLICY_FIELDS},
        "max_runs": job.max_runs,
        "keep_failures": job.keep_failures,
        "seed": None,
        "progress": {
            "anchor": job.anchor,
            "finished": job.next_run is None,
            "run_count": job.run_count,
            "consecutive_failures": job.consecutive_failures,
            "paused_reason": job.paused_reason,
        },
    }
    if seed is not None:
        entry["seed"] = {
            "uuid": seed.uuid,
            "cron_definition": seed.cron_definition,
            "interval_definition": seed.interval_definition,
            "endpoint": seed.endpoint,
            "auth_token": None if seed.auth_token is None else token(seed.auth_token),
            "payload": seed.payload,
        }
    return entry


def load(raw: bytes) -> list[Entry]:
    """The jobs of a file, in its order; Refused for the first thing wrong with its shape."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Refused(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise Refused(f'not a veggiecron jobs file: it needs "format": "{FORMAT}"')
    version = document.get("version")
    if version != VERSION or isinstance(version, bool):
        raise Refused(f"format version {str(version)[:20]} is not one this veggiecron reads (version {VERSION})")
    for key in document:
        if key not in DOCUMENT_FIELDS:
            raise Refused(f"unknown field {key[:64]!r} in the document; it takes: {', '.join(DOCUMENT_FIELDS)}")
    jobs = document.get("jobs")
    if not isinstance(jobs, list):
        raise Refused('"jobs" must be a list of jobs')
    return [_entry(number, job) for number, job in enumerate(jobs, 1)]


def _entry(number: int, raw: object) -> Entry:
    if not isinstance(raw, dict):
        raise Refused("a job must be a JSON object", number)
    name = raw.get("name")
    try:
        for key in raw:
            if key not in JOB_FIELDS:
                raise Invalid(key, f"unknown field {key[:64]!r}; a job in the file takes: {', '.join(JOB_FIELDS)}")
        keep_failures = raw.get("keep_failures", False)
        if not isinstance(keep_failures, bool):
            raise Invalid("keep_failures", "keep_failures must be true or false")
        seed_uuid, seed = _seed(raw.get("seed"))
        # The service reads `enabled` later; a paused job must be a disabled one already here.
        progress = _progress(raw.get("progress", {}), parse_bool(raw.get("enabled", True)) is not False)
    except Invalid as exc:
        raise Refused(exc.description, number, name, exc.field) from None
    return Entry(
        number=number,
        name=name,
        fields={key: value for key, value in raw.items() if key in CREATE_FIELDS},
        max_runs=raw.get("max_runs"),
        keep_failures=keep_failures,
        seed_uuid=seed_uuid,
        seed=seed,
        progress=progress,
    )


def _seed(raw: object) -> tuple[str | None, dict[str, Any]]:
    """A Seed schedule's id and its other fields (checked by the Seed API's validation later)."""
    if raw is None:
        return None, {}
    if not isinstance(raw, dict):
        raise Invalid("seed", "seed must be null or an object of a Seed schedule's fields")
    for key in raw:
        if key not in SEED_FIELDS:
            raise Invalid(f"seed.{key[:64]}", f"unknown field; a Seed schedule takes: {', '.join(SEED_FIELDS)}")
    value = raw.get("uuid")
    try:
        canonical = str(uuid_module.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        canonical = None
    if canonical is None or canonical != value:
        raise Invalid("seed.uuid", "seed.uuid must be a schedule id such as 6f1c2a8e-0b7d-4c55-9a3e-2d4b8f0e1a01")
    return value, {key: item for key, item in raw.items() if key != "uuid"}


def _progress(raw: object, enabled: bool) -> Carried:
    if not isinstance(raw, dict):
        raise Invalid("progress", f"progress must be an object of: {', '.join(PROGRESS_FIELDS)}")
    for key in raw:
        if key not in PROGRESS_FIELDS:
            raise Invalid(f"progress.{key[:64]}", f"unknown field; progress takes: {', '.join(PROGRESS_FIELDS)}")
    anchor = raw.get("anchor")
    if anchor is not None and not (isinstance(anchor, int | float) and not isinstance(anchor, bool)):
        anchor = math.nan
    if anchor is not None and not (math.isfinite(anchor) and anchor >= 0):
        raise Invalid("progress.anchor", "progress.anchor must be null or epoch seconds")
    finished = raw.get("finished", False)
    if not isinstance(finished, bool):
        raise Invalid("progress.finished", "progress.finished must be true or false")
    counts = {}
    for key in ("run_count", "consecutive_failures"):
        value = raw.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
            raise Invalid(f"progress.{key}", f"progress.{key} must be a whole number from 0 to {MAX_COUNT}")
        counts[key] = value
    reason = raw.get("paused_reason")
    if reason is not None and (not isinstance(reason, str) or not 0 < len(reason) <= MAX_REASON):
        raise Invalid("progress.paused_reason", f"progress.paused_reason must be null or 1 to {MAX_REASON} characters")
    if reason is not None and enabled:
        raise Invalid("progress.paused_reason", "only a disabled job is paused: give enabled false or no paused_reason")
    return Carried(
        anchor=None if anchor is None else float(anchor),
        finished=finished,
        run_count=counts["run_count"],
        consecutive_failures=counts["consecutive_failures"],
        paused_reason=reason,
    )
