"""Import and export in-process: what a file's jobs become, and every refusal, naming the job and field."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import test_config
from tests.unit.conftest import T0, FakeClock
from veggiecron.auth import NO_PASSWORD
from veggiecron.config import Config, QuotasSection
from veggiecron.export_import import Imported, UnknownUser, export_jobs, import_jobs
from veggiecron.jobs_file import Refused, load
from veggiecron.store.sqlite import SqliteStore

UUID = "6f1c2a8e-0b7d-4c55-9a3e-2d4b8f0e1a01"
CONFIG = test_config("unused.db")
FIRST = {"name": "first", "schedule": "every 1 hours", "data": {"url": "http://127.0.0.1:9/first"}}
PING = {"name": "ping", "schedule": "every 10 seconds", "data": {"url": "http://127.0.0.1:9/ping"}}
SEED: dict[str, Any] = {
    "name": f"seed-{UUID}",
    "schedule": "every minute",
    "data": {"url": "http://127.0.0.1:9/hook", "verb": "POST", "json": {"n": 1}},
    "max_runs": 10,
    "keep_failures": True,
    "seed": {
        "uuid": UUID,
        "interval_definition": "1 minutes",
        "endpoint": "http://127.0.0.1:9/hook",
        "payload": {"n": 1},
    },
}


def document(*jobs: Any, **top: Any) -> bytes:
    return orjson.dumps({"format": "veggiecron-jobs", "version": 1, "jobs": list(jobs), **top})


async def imported(
    store: SqliteStore,
    raw: bytes,
    *,
    username: str = "alice",
    replace_existing: bool = False,
    create_user: bool = False,
    now: float = T0,
    config: Config = CONFIG,
) -> Imported:
    return await import_jobs(
        store,
        config,
        FakeClock(now),
        username,
        load(raw),
        replace_existing=replace_existing,
        create_user=create_user,
    )


async def refusal(store: SqliteStore, raw: bytes, **options: Any) -> str:
    """The one line an import of `raw` is refused with; the store is checked to hold no more jobs."""
    before = await store.user_jobs(1)
    with pytest.raises(Refused) as raised:
        await imported(store, raw, **options)
    assert await store.user_jobs(1) == before
    message = str(raised.value)
    assert "\n" not in message
    return message


async def test_a_job_is_created_as_post_job_would_with_the_progress_the_file_carries(store: SqliteStore) -> None:
    paused = {
        **PING,
        "name": "paused",
        "timezone": "Europe/London",
        "enabled": False,
        "pause_after_failures": 3,
        "overlap": "buffer_one",
        "progress": {"anchor": T0 - 25, "consecutive_failures": 3, "paused_reason": "3 consecutive failed runs"},
    }
    done = {**FIRST, "name": "done", "schedule": "once @ 1799999000", "progress": {"finished": True, "run_count": 1}}
    later = {**PING, "name": "later", "progress": {"anchor": T0 + 3600}}  # the exporting machine's clock ahead
    seed = {**SEED, "progress": {"anchor": T0 - 90, "run_count": 4}}
    report = await imported(store, document(FIRST, paused, done, later, seed))
    assert report == Imported(created=5, replaced=0, user_created=False)

    jobs = {job.name: (job, seed) for job, seed in await store.user_jobs(1)}
    first, no_seed = jobs["first"]
    assert (first.schedule, first.timezone, first.enabled, first.policy, no_seed) == (
        "every hour",
        "UTC",
        True,
        {},
        None,
    )
    assert (first.anchor, first.next_run, first.date_created, first.run_count) == (T0, T0 + 3600, T0, 0)
    job = jobs["paused"][0]
    assert (job.enabled, job.paused_reason, job.consecutive_failures) == (False, "3 consecutive failed runs", 3)
    assert job.policy == {"pause_after_failures": 3, "overlap": "buffer_one"}
    assert (job.anchor, job.next_run, job.timezone) == (T0 - 25, T0 + 5, "Europe/London")  # its grid, from now
    assert (jobs["done"][0].next_run, jobs["done"][0].run_count) == (None, 1)  # fired: it stays done
    assert (jobs["later"][0].anchor, jobs["later"][0].next_run) == (T0, T0 + 10)
    job, fields = jobs[f"seed-{UUID}"]
    assert (job.anchor, job.next_run, job.run_count, job.max_runs, job.keep_failures) == (T0 - 90, T0 + 30, 4, 10, True)
    assert fields is not None
    assert (fields.uuid, fields.interval_definition, fields.cron_definition) == (UUID, "1 minutes", None)
    assert (fields.endpoint, fields.payload, fields.auth_token, fields.created_by) == (
        SEED["data"]["url"],
        {"n": 1},
        None,
        1,
    )


async def test_what_export_writes_imports_into_another_database_and_exports_the_same(
    store: SqliteStore, tmp_path: Path
) -> None:
    await imported(
        store,
        document(
            FIRST,
            {**PING, "enabled": False, "jitter_seconds": 5, "progress": {"anchor": T0 - 7, "paused_reason": "why"}},
            {**SEED, "progress": {"run_count": 3}},
        ),
    )
    exported, count = await export_jobs(store, "alice", T0 + 60)
    assert count == 3
    other = SqliteStore(str(tmp_path / "other.db"))
    await other.open()
    try:
        report = await imported(other, exported, username="bob", create_user=True, now=T0 + 120)
        assert report == Imported(created=3, replaced=0, user_created=True)
        again, _count = await export_jobs(other, "bob", T0 + 180)
    finally:
        await other.close()
    first, second = orjson.loads(exported), orjson.loads(again)
    assert first.pop("exported_at") != second.pop("exported_at")
    assert (first.pop("username"), second.pop("username")) == ("alice", "bob")
    assert first == second
    assert [job["name"] for job in first["jobs"]] == ["first", "ping", f"seed-{UUID}"]
    assert first["jobs"][1]["progress"] == {
        "anchor": T0 - 7,
        "finished": False,
        "run_count": 0,
        "consecutive_failures": 0,
        "paused_reason": "why",
    }


def changed(job: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**job, **fields}


REFUSALS = [
    # (the second job of the file, the start of the line after "job 2 'ping': ")
    (changed(PING, colour="blue"), "colour: unknown field 'colour'"),
    (changed(PING, name="bad name!"), "name: name must be 1 to 128 characters"),
    (changed(PING, type="ftp"), "type: type must be one of: http"),
    (changed(PING, data={"url": "ftp://example.org/"}), "data.url: data.url must be an http:// or https:// URL"),
    (changed(PING, data={"url": "http://127.0.0.1:9/", "verb": "FETCH"}), "data.verb: "),
    (changed(PING, schedule="every blue moon"), "schedule: "),
    (changed(PING, timezone="Mars/Olympus_Mons"), "timezone: unknown time zone"),
    (changed(PING, overlap="sometimes"), "overlap: "),
    (changed(PING, start_at="next tuesday"), "start_at: "),
    (changed(PING, enabled="maybe"), "enabled: enabled must be true or false"),
    (changed(PING, max_runs=5), "max_runs: max_runs is a Seed schedule's frequency"),
    (changed(PING, keep_failures=True), "keep_failures: keep_failures is true for a Seed schedule"),
    (changed(PING, progress={"anchor": "yesterday"}), "progress.anchor: "),
    (changed(PING, progress={"run_count": -1}), "progress.run_count: "),
    (changed(PING, progress={"paused_reason": "x"}), "progress.paused_reason: only a disabled job is paused"),
    (changed(PING, progress={"next_run": 5}), "progress.next_run: unknown field"),
    (changed(PING, name="first"), "name: the file holds two jobs named 'first'"),
]


@pytest.mark.parametrize(("job", "expected"), REFUSALS, ids=[expected.split(":")[0] for _job, expected in REFUSALS])
async def test_a_job_the_api_would_refuse_refuses_the_file(
    store: SqliteStore, job: dict[str, Any], expected: str
) -> None:
    message = await refusal(store, document(FIRST, job))
    assert message.startswith(f"job 2 {job['name']!r}: {expected}"), message


SEED_REFUSALS = [
    (changed(SEED, seed={**SEED["seed"], "endpoint": "not a url"}), "seed.endpoint: Enter a valid URL"),
    (changed(SEED, seed={**SEED["seed"], "uuid": "7"}), "seed.uuid: "),
    (changed(SEED, seed={**SEED["seed"], "cron_definition": "* * * * *"}), "seed.non_field_errors: "),
    (changed(SEED, seed={**SEED["seed"], "interval_definition": "1 fortnight"}), "seed.interval_definition: "),
    (changed(SEED, seed={**SEED["seed"], "colour": "x"}), "seed.colour: unknown field"),
    (changed(SEED, name="seed-other"), "name: a Seed schedule's job is named after its id"),
    (changed(SEED, max_runs=0), "max_runs: "),
    (changed(SEED, keep_failures=False), "keep_failures: "),
]


@pytest.mark.parametrize(
    ("job", "expected"), SEED_REFUSALS, ids=[expected.split(":")[0] for _job, expected in SEED_REFUSALS]
)
async def test_a_seed_schedule_the_seed_api_would_refuse_refuses_the_file(
    store: SqliteStore, job: dict[str, Any], expected: str
) -> None:
    message = await refusal(store, document(FIRST, job))
    assert message.startswith(f"job 2 {job['name']!r}: {expected}"), message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "not JSON: "),
        (orjson.dumps([PING]), "not a veggiecron jobs file"),
        (orjson.dumps({"format": "veggiecron-jobs", "version": 2, "jobs": []}), "format version 2 is not one"),
        (document(PING, owner="alice"), "unknown field 'owner' in the document"),
        (orjson.dumps({"format": "veggiecron-jobs", "version": 1, "jobs": {}}), '"jobs" must be a list'),
        (document(FIRST, "ping"), "job 2: a job must be a JSON object"),
    ],
)
async def test_a_file_that_is_not_a_jobs_file_is_refused(store: SqliteStore, raw: bytes, expected: str) -> None:
    assert (await refusal(store, raw)).startswith(expected)


async def test_quotas_count_the_jobs_imported_before(store: SqliteStore) -> None:
    config = replace(CONFIG, quotas=QuotasSection(max_jobs_per_user=2))
    await imported(store, document(FIRST), config=config)
    message = await refusal(store, document(PING, changed(PING, name="pong")), config=config)
    assert message.startswith("job 2 'pong': max_jobs_per_user: quota exceeded: at most 2 jobs per user")


async def test_an_existing_name_is_refused_unless_replace_changes_it_as_patch_would(store: SqliteStore) -> None:
    paused = changed(PING, enabled=False, progress={"anchor": T0 - 5, "run_count": 7, "consecutive_failures": 3})
    await imported(store, document(FIRST, changed(paused, progress={**paused["progress"], "paused_reason": "why"})))
    before = {job.name: job for job, _seed in await store.user_jobs(1)}
    message = await refusal(store, document(changed(PING, name="new"), FIRST))
    assert message.startswith("job 2 'first': name: you already have a job named 'first' (--replace")

    later = T0 + 100
    file = document(
        changed(FIRST, data={"url": "http://127.0.0.1:9/moved"}, progress={"run_count": 99}),
        changed(PING, schedule="every 20 seconds", enabled=True),
        changed(PING, name="new"),
    )
    assert await imported(store, file, replace_existing=True, now=later) == Imported(1, 2, False)
    after = {job.name: job for job, _seed in await store.user_jobs(1)}
    # Data changed; its grid, next run and progress are its own (the file's progress is not PATCH's).
    first = before["first"]
    assert after["first"] == replace(
        first, data={"url": "http://127.0.0.1:9/moved"}, version=first.version + 1, date_updated=later
    )
    # A new schedule starts its grid now; re-enabling a paused job clears its pause and streak.
    ping = after["ping"]
    assert (ping.schedule, ping.anchor, ping.next_run) == ("every 20 seconds", later, later + 20)
    assert (ping.enabled, ping.paused_reason, ping.consecutive_failures, ping.run_count) == (True, None, 0, 7)
    assert after["new"].anchor == later
    # Each import that wrote is one audit row about the user, written with its jobs; the refused one none.
    rows, count = await store.list_audit(1, 10, 0, action="jobs.imported")
    assert count == 2 and rows[0].actor == "system" and rows[0].target == "user:alice"
    assert rows[0].changes == {"created": ["new"], "changed": ["first", "ping"], "user_created": False}


async def test_a_seed_schedule_replaces_only_a_seed_schedule(store: SqliteStore) -> None:
    await imported(store, document(SEED, changed(FIRST, name=f"seed-{UUID[:-1]}2")))
    other = changed(SEED, name=f"seed-{UUID[:-1]}2", seed={**SEED["seed"], "uuid": f"{UUID[:-1]}2"})
    message = await refusal(store, document(other), replace_existing=True)
    assert message.startswith(f"job 1 'seed-{UUID[:-1]}2': seed: the job named 'seed-{UUID[:-1]}2' is not a Seed")
    moved = changed(SEED, max_runs=3, seed={**SEED["seed"], "endpoint": "http://127.0.0.1:9/moved"})
    assert await imported(store, document(moved), replace_existing=True) == Imported(0, 1, False)
    job, fields = await store.get_seed(1, UUID)
    assert (job.max_runs, fields.endpoint, fields.created_by, fields.updated_by) == (
        3,
        "http://127.0.0.1:9/moved",
        1,
        1,
    )


async def test_a_seed_schedule_id_another_user_has_refuses_the_file(store: SqliteStore, tmp_path: Path) -> None:
    await store.create_user("bob", "x", T0)
    await imported(store, document(SEED), username="bob")
    message = await refusal(store, document(FIRST, SEED))
    assert message == f"job 2 'seed-{UUID}': seed.uuid: Seed schedule id {UUID} is taken by another schedule"


async def test_an_unknown_user_is_refused_unless_created(store: SqliteStore) -> None:
    with pytest.raises(UnknownUser):
        await imported(store, document(FIRST), username="carol")
    await refusal(store, document(FIRST, changed(PING, schedule="never")), username="carol", create_user=True)
    assert await store.user_credentials("carol") is None  # a refused file creates no user either
    report = await imported(store, document(FIRST), username="ops@example.org", create_user=True)
    assert report.user_created
    found = await store.user_credentials("ops@example.org")
    assert found is not None
    user, password_hash = found
    assert (password_hash, user.email, user.is_admin) == (NO_PASSWORD, "ops@example.org", False)
    assert [job.name for job, _seed in await store.user_jobs(user.id)] == ["first"]


async def test_an_imported_job_skips_its_calendars_days_and_one_naming_none_is_refused(store: SqliteStore) -> None:
    today = datetime.fromtimestamp(T0, UTC).date()
    await store.create_calendar(
        1, "off", False, {"dates": [today.isoformat(), (today + timedelta(days=1)).isoformat()]}, T0
    )
    daily = {**FIRST, "name": "daily", "schedule": "every day @ 23:00", "skip_calendars": ["off"]}
    assert await imported(store, document(daily)) == Imported(created=1, replaced=0, user_created=False)
    job = (await store.user_jobs(1))[0][0]
    assert job.policy == {"skip_calendars": ["off"]}
    assert datetime.fromtimestamp(job.next_run or 0, UTC).date() == today + timedelta(days=2)
    message = await refusal(store, document({**daily, "name": "other", "skip_calendars": ["nope"]}))
    assert "'nope'" in message and "skip_calendars" in message
