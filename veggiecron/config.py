"""The frozen, validated Config, built from layers of settings; every problem is one clear ConfigError line.

A layer is a flat mapping of dotted keys ("port", "http_client.pool_size") to values: the config
file gives one, and config_layers.py adds the environment and the command line on top.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_origin, get_type_hints

import yaml

from .config_checks import SHIPPED_APP_KEY, ConfigError, validate

DEFAULT_DB_FILE = "veggiecron.db"


@dataclass(frozen=True)
class AppSection:
    env: str = "development"
    name: str = "veggiecron-server"
    # Keys the HMAC that stores tokens; changing it signs every user out.
    key: str = SHIPPED_APP_KEY
    # The server's address as its targets reach it (https://cron.example.org): the `iss` of OIDC
    # tokens, exactly as written here, and where their JWKS is. Jobs with data.oidc need it.
    public_url: str = ""


@dataclass(frozen=True)
class HttpClientSection:
    pool_size: int = 100
    # Connections one target (host and port) may hold, so a hanging target cannot take the pool.
    pool_per_host: int = 50
    # Threads for blocking calls (DNS is not one: it is asked asynchronously, see below).
    resolver_threads: int = 64
    # DNS lookups go out asynchronously through c-ares, any number at once, each given at most
    # this long; dns_servers (host or host:port) replaces the system's resolv.conf when set.
    dns_timeout_seconds: float = 5.0
    dns_servers: tuple[str, ...] = ()
    # Idle pooled connections are kept this long, so jobs firing every minute reuse them.
    keepalive_seconds: float = 60.0
    timeout_seconds: float = 30.0
    response_excerpt_bytes: int = 1024
    # Larger response bodies fail the run (body_too_large); up to this much is read and dropped.
    max_response_bytes: int = 1024 * 1024
    retry_backoff_seconds: float = 1.0
    retry_backoff_max_seconds: float = 60.0
    max_clones: int = 100
    # Outbound networks allowed even where the environment denies them (CIDRs, e.g. 10.1.0.0/16).
    allow_networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class SchedulerSection:
    run_history_per_job: int = 100  # newest runs kept per job (0: no count limit)
    run_history_max_age_days: float = 90.0  # and none older (0: no age limit)
    shutdown_grace_seconds: float = 10.0
    flush_interval_seconds: float = 0.2
    window_seconds: float = 300.0  # jobs due within it are held in memory, later ones wait in the store


@dataclass(frozen=True)
class ApiSection:
    max_body_bytes: int = 1024 * 1024
    default_page_size: int = 50
    max_page_size: int = 500
    # Closed when idle this long between requests or sending headers; a body gets body_timeout_seconds.
    idle_timeout_seconds: float = 75.0
    body_timeout_seconds: float = 60.0
    # Client connections held at most (0: sized from the open files limit); at the bound the one
    # idle the longest is closed to make room, between requests before new (api/connections.py).
    max_connections: int = 0


@dataclass(frozen=True)
class SecuritySection:
    bcrypt_rounds: int = 12
    token_lifetime_days: float = 30.0
    service_token_lifetime_days: float = 365.0  # tokens of create-admin and POST /api/v1/user/token/
    secrets_key: str = ""  # seals secrets at rest (sealed.py); empty: derived from app.key
    # After `veggiecron rotate-keys`, the old OIDC key stays in the JWKS this long, so targets
    # holding a cached JWKS and tokens signed just before the rotation still verify.
    jwks_overlap_hours: float = 24.0
    # Password checks (login, token-auth, HTTP Basic) refused with 429 after this many failures
    # in login_window_seconds: for one username from one client address, and from one address.
    # Failures never hold a user back from another address (see throttle.py).
    login_failures_per_user: int = 10
    login_failures_per_address: int = 50
    # Failures from all addresses together, against spraying: above it, addresses that failed
    # within the window wait too; addresses without failures still log in.
    login_failures_global: int = 1000
    login_window_seconds: float = 900.0
    # Who may create users through POST /register: open, admin or closed.
    registration: str = "open"


@dataclass(frozen=True)
class SeedSection:
    """Defaults of schedules created through the Seed Scheduler API."""

    request_timeout_seconds: float = 30.0
    retries: int = 5
    # Sent as `Authorization: Token <hook_auth_token>` with every webhook POST, when set.
    hook_auth_token: str = ""
    # https in the absolute URLs the Seed API answers (behind a TLS-terminating proxy).
    use_ssl: bool = False
    # A Go Metrics API (http://host/ + metrics/) that delivery failures are pushed to, as Seed does.
    metrics_url: str = ""
    metrics_auth_user: str = ""
    metrics_auth_password: str = ""


@dataclass(frozen=True)
class LoggingSection:
    # text: one readable line per event; json: one JSON object per line, for log shippers.
    format: str = "text"
    # Unexpected errors go to Sentry when set (needs the sentry extra: pip install 'veggiecron[sentry]').
    sentry_dsn: str = ""


@dataclass(frozen=True)
class QuotasSection:
    """Per-user limits (admins are exempt); clones per run are http_client.max_clones."""

    max_jobs_per_user: int = 1000
    min_interval_seconds: int = 1
    # Projected from schedules and clones: what a user's enabled jobs may send per minute.
    max_runs_per_minute: int = 6000


@dataclass(frozen=True)
class SqliteSection:
    """The SQLite file's durability (see README, Downtime, restarts and guarantees)."""

    # full: a commit is on disk before the write is answered, so a power cut loses nothing
    # answered; normal: a power cut may lose the last commits (a crash of the process never does).
    synchronous: str = "full"


@dataclass(frozen=True)
class ClusterSection:
    """Several nodes on one PostgreSQL database (see README, Running several nodes)."""

    # A claimed slot stays this node's for this long without a renewal; a node that dies holds
    # its slots at most this long (plus reap_interval) before another node sends them.
    lease_seconds: float = 10.0
    claim_ahead_seconds: float = 0.25  # slots are claimed this long before they are due
    poll_interval_seconds: float = 1.0  # nodes look for due slots at least this often
    reap_interval_seconds: float = 1.0  # how often a node looks for lapsed leases
    claim_batch: int = 500  # jobs locked per claim transaction
    max_held: int = 5000  # slots a node holds (claimed, not finished) at most
    node_name: str = ""  # shown in logs and X-Veggiecron-Node; defaults to host:pid
    # all: serve the APIs and send runs; api: serve the APIs and dashboard, claim nothing;
    # scheduler: claim and send, serve /health and /metrics only (README, Node roles).
    role: str = "all"


@dataclass(frozen=True)
class AuditSection:
    max_age_days: float = 365.0  # audit log rows older than this are trimmed (README, The audit log)


@dataclass(frozen=True)
class Config:
    app: AppSection = field(default_factory=AppSection)
    host: str = "127.0.0.1"
    port: int = 8118
    # A database URL when it is not a SQLite file: postgresql://... runs this node among others on
    # one PostgreSQL database. The key `database` also takes sqlite:///PATH or a plain path, which
    # set db_file.
    database: str = ""
    db_file: str = DEFAULT_DB_FILE
    log_level: str = "INFO"
    logging: LoggingSection = field(default_factory=LoggingSection)
    http_client: HttpClientSection = field(default_factory=HttpClientSection)
    scheduler: SchedulerSection = field(default_factory=SchedulerSection)
    api: ApiSection = field(default_factory=ApiSection)
    security: SecuritySection = field(default_factory=SecuritySection)
    seed: SeedSection = field(default_factory=SeedSection)
    quotas: QuotasSection = field(default_factory=QuotasSection)
    sqlite: SqliteSection = field(default_factory=SqliteSection)
    cluster: ClusterSection = field(default_factory=ClusterSection)
    audit: AuditSection = field(default_factory=AuditSection)


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> Config:
    """Read a YAML file (or the defaults when path is None), apply overrides, validate."""
    layers = [read_file(Path(path))] if path is not None else []
    layers.append(canonical({k: v for k, v in (overrides or {}).items() if v is not None}, "overrides"))
    values: dict[str, Any] = {}
    for layer in layers:
        values.update(layer)
    return build(values)


def read_file(path: Path) -> dict[str, Any]:
    """The config file as a flat layer of dotted keys; a missing file is an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: {problem}{at}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return canonical(_flatten(Config, raw, ""), str(path))


def _flatten(cls: Any, raw: dict[str, Any], prefix: str) -> dict[str, Any]:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"unknown config key: {prefix}{key}")
    flat: dict[str, Any] = {}
    for name, value in raw.items():
        if is_dataclass(hints[name]):
            section = value if value is not None else {}
            if not isinstance(section, dict):
                raise ConfigError(f"config key {prefix}{name} must be a mapping")
            flat.update(_flatten(hints[name], section, f"{prefix}{name}."))
        else:
            flat[prefix + name] = value
    return flat


def field_types(cls: Any = Config, prefix: str = "") -> dict[str, Any]:
    """Every settable key, dotted, with its type: {"port": int, "http_client.pool_size": int, ...}."""
    hints = get_type_hints(cls)
    found: dict[str, Any] = {}
    for f in fields(cls):
        if is_dataclass(hints[f.name]):
            found.update(field_types(hints[f.name], f"{prefix}{f.name}."))
        else:
            found[prefix + f.name] = hints[f.name]
    return found


def canonical(layer: dict[str, Any], source: str) -> dict[str, Any]:
    """`db_file` is the older name of a SQLite `database`: a layer names the database once."""
    if "db_file" not in layer:
        return layer
    layer = dict(layer)
    db_file = layer.pop("db_file")
    if "database" in layer and layer["database"] != db_file:
        raise ConfigError(f"{source}: give database or db_file, not both")
    layer["database"] = db_file
    return layer


def build(values: dict[str, Any]) -> Config:
    """A validated Config from merged flat values (dotted keys)."""
    known = field_types()
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown config key: {key}")
    nested: dict[str, Any] = {}
    for key, value in values.items():
        *sections, name = key.split(".")
        target = nested
        for section in sections:
            target = target.setdefault(section, {})
        target[name] = value
    database = nested.pop("database", None)
    config: Config = _build(Config, nested, "")
    if database is not None:
        kind, where = parse_database(_coerce(database, str, "database"))
        config = replace(config, database="", db_file=where) if kind == "sqlite" else replace(config, database=where)
    validate(config)
    return config


def parse_database(url: str) -> tuple[str, str]:
    """("sqlite", path) or ("postgresql", url) for a database setting; ConfigError otherwise.

    As in SQLAlchemy and dj-database-url, sqlite:///name.db is relative and sqlite:////srv/name.db
    absolute; a value without a scheme is a SQLite path.
    """
    if not url:
        raise ConfigError("database must not be empty")
    if "://" not in url:
        return "sqlite", url
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        if not url.lower().startswith("sqlite:///") or len(url) == len("sqlite:///"):
            raise ConfigError("database: a SQLite URL names a file, as sqlite:///relative.db or sqlite:////abs/path.db")
        return "sqlite", url[len("sqlite:///") :]
    if scheme in ("postgresql", "postgres"):
        return "postgresql", url
    raise ConfigError(f"database: unknown scheme {scheme!r}; use sqlite:///PATH, a file path, or postgresql://...")


def database_url(config: Config) -> str:
    """The database in use, as a URL (SQLite as sqlite:///relative or sqlite:////absolute)."""
    return config.database or f"sqlite:///{config.db_file}"


def _build(cls: Any, raw: dict[str, Any], prefix: str) -> Any:
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in raw:
            continue
        name = prefix + f.name
        hint = hints[f.name]
        if is_dataclass(hint):
            values[f.name] = _build(hint, raw[f.name], name + ".")
        else:
            values[f.name] = _coerce(raw[f.name], hint, name)
    return cls(**values)


def _coerce(value: Any, kind: Any, name: str) -> Any:
    # YAML already typed the value; accept ints where floats are wanted, nothing looser.
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
    elif get_origin(kind) is tuple:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        raise ConfigError(f"config key {name} must be a list of strings, got {type(value).__name__}: {value!r}")
    kind_name = getattr(kind, "__name__", str(kind))
    raise ConfigError(f"config key {name} must be {kind_name}, got {type(value).__name__}: {value!r}")


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def log_level_number(config: Config) -> int:
    return int(getattr(logging, config.log_level.upper()))
