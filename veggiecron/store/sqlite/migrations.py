"""Numbered schema migrations. Append new ones; never edit one that has shipped."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: users, tokens, jobs, runs. Ids are AUTOINCREMENT so a deleted row's id is never reused:
    # writes still queued for a deleted job must not land on a newer one.
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0,
        date_created REAL NOT NULL,
        date_updated REAL NOT NULL
    );
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX tokens_user ON tokens(user_id);
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        schedule TEXT NOT NULL,
        timezone TEXT NOT NULL DEFAULT 'UTC',
        enabled INTEGER NOT NULL DEFAULT 1,
        next_run REAL,
        anchor REAL NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        date_created REAL NOT NULL,
        date_updated REAL NOT NULL,
        UNIQUE (user_id, name)
    );
    CREATE INDEX jobs_next_run ON jobs(next_run) WHERE enabled = 1 AND next_run IS NOT NULL;
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        due_at REAL NOT NULL,
        started_at REAL NOT NULL,
        duration_ms REAL NOT NULL,
        outcome TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        status_code INTEGER,
        error TEXT,
        response_excerpt TEXT
    );
    CREATE INDEX runs_job ON runs(job_id, id);
    """,
    # 2: run limits and kept failures on jobs; the Seed Scheduler API's tables
    """
    ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN max_runs INTEGER;
    ALTER TABLE jobs ADD COLUMN run_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN keep_failures INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE seed_schedules (
        job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
        uuid TEXT NOT NULL UNIQUE,
        cron_definition TEXT,
        interval_definition TEXT,
        endpoint TEXT NOT NULL,
        auth_token TEXT,
        payload TEXT,
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        updated_by INTEGER REFERENCES users(id) ON DELETE SET NULL
    );
    CREATE TABLE failed_tasks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        task_id TEXT NOT NULL,
        initiated_at REAL NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX failed_tasks_job ON failed_tasks(job_id);
    CREATE TABLE webhooks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        event TEXT NOT NULL,
        target TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE INDEX webhooks_user_event ON webhooks(user_id, event);
    CREATE TABLE groups (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE user_groups (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        PRIMARY KEY (user_id, group_id)
    );
    """,
    # 3: per-job policies, failure streaks and pauses; error classes of runs
    """
    ALTER TABLE jobs ADD COLUMN policy TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE jobs ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN paused_reason TEXT;
    ALTER TABLE runs ADD COLUMN error_class TEXT;
    """,
    # 4: slots the scheduler took on but had not started (waiting for a connection, or behind
    # the run in flight): a restart runs them or records them as missed, never loses them
    """
    CREATE TABLE held_slots (
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        due_at REAL NOT NULL,
        reason TEXT NOT NULL,
        since REAL NOT NULL,
        PRIMARY KEY (job_id, due_at)
    );
    """,
    # 5: tags on jobs, a JSON array of strings (filtered with json_each; a user's jobs are few
    # enough to scan, and a table of its own would cost a write per tag on every change)
    """
    ALTER TABLE jobs ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
    """,
    # 6: how long each run waited for a connection before it started (NULL on older runs)
    """
    ALTER TABLE runs ADD COLUMN pool_wait_ms REAL;
    """,
    # 7: calendars whose days jobs skip (skip_calendars in a job's policy); a user's own names are
    # unique to them, a shared calendar's name is unique among shared ones
    """
    CREATE TABLE calendars (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        shared INTEGER NOT NULL DEFAULT 0,
        spec TEXT NOT NULL,
        date_created REAL NOT NULL,
        date_updated REAL NOT NULL
    );
    CREATE UNIQUE INDEX calendars_own_name ON calendars(user_id, name) WHERE shared = 0;
    CREATE UNIQUE INDEX calendars_shared_name ON calendars(name) WHERE shared = 1;
    """,
    # 8: the audit log, one row per change, written in the change's transaction. No reference
    # to users or jobs: a row outlives what it describes. The CHECK keeps actions to names.
    """
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        actor_id INTEGER,
        owner_id INTEGER,
        address TEXT,
        token_id INTEGER,
        action TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
        target TEXT NOT NULL,
        changes TEXT
    );
    CREATE INDEX audit_log_owner ON audit_log(owner_id, id);
    CREATE INDEX audit_log_actor ON audit_log(actor_id, id);
    CREATE INDEX audit_log_at ON audit_log(at);
    """,
    # 9: users' signing secrets (Standard Webhooks): every row is an active secret
    """
    CREATE TABLE signing_secrets (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        secret TEXT NOT NULL,
        date_created REAL NOT NULL
    );
    CREATE INDEX signing_secrets_user ON signing_secrets(user_id);
    """,
    # 10: the server's OIDC signing keys (ES256), private halves sealed; a retired key stays in
    # the JWKS for security.jwks_overlap_hours after retired_at
    """
    CREATE TABLE oidc_keys (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kid TEXT NOT NULL UNIQUE,
        private_key TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        created_at REAL NOT NULL,
        retired_at REAL
    );
    """,
    # 11: jobs that run after other jobs. A follower names its parent by id (a parent deleted
    # leaves it disabled and unlinked) and the outcome it follows (ok, failed, finished); a run
    # and a held slot keep the parent's run_id that triggered them.
    """
    ALTER TABLE jobs ADD COLUMN after_job INTEGER REFERENCES jobs(id) ON DELETE SET NULL;
    ALTER TABLE jobs ADD COLUMN after_on TEXT;
    CREATE INDEX jobs_after ON jobs(after_job) WHERE after_job IS NOT NULL;
    ALTER TABLE runs ADD COLUMN triggered_by TEXT;
    ALTER TABLE held_slots ADD COLUMN triggered_by TEXT;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
