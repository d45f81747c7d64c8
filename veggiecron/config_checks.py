"""The checks of a Config that its types alone cannot express; every problem is one ConfigError line."""

from __future__ import annotations

import ipaddress
from typing import Any

# The key shipped in config.yaml; production refuses to start with it.
SHIPPED_APP_KEY = "change-me-veggiecron-development-key"
ENVIRONMENTS = ("development", "production", "test")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
# open: anyone who reaches the port; admin: only with an admin's token; closed: nobody (admins
# create users with `veggiecron create-admin` and POST /api/v1/user/token/).
REGISTRATION_MODES = ("open", "admin", "closed")
SYNCHRONOUS_MODES = ("normal", "full")
ROLES = ("all", "api", "scheduler")


class ConfigError(Exception):
    """The configuration cannot be used; the message is meant for a person."""


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def validate(config: Any) -> None:
    """Range and consistency checks of a Config that types alone cannot express.

    Typed loosely: config.py calls this module, which therefore imports nothing of config.py."""
    _require(config.app.env in ENVIRONMENTS, f"app.env must be one of {', '.join(ENVIRONMENTS)}")
    _require(bool(config.app.name.strip()), "app.name must not be empty")
    _require(len(config.app.key) >= 16, "app.key must be at least 16 characters")
    if config.app.env == "production":
        _require(
            config.app.key != SHIPPED_APP_KEY,
            "app.key is still the shipped default; production needs a secret of your own (16+ characters) "
            "in app.key, the environment variable VEGGIECRON_APP__KEY or SECRET_KEY",
        )
    _require(
        not config.app.public_url or config.app.public_url.startswith(("http://", "https://")),
        "app.public_url must be an http:// or https:// URL (the server's address as its targets reach it)",
    )
    _require(0 <= config.security.jwks_overlap_hours <= 24 * 365, "security.jwks_overlap_hours must be in [0, 8760]")
    _require(bool(config.host), "host must not be empty")
    _require(0 <= config.port <= 65535, "port must be between 0 and 65535")
    _require(bool(config.db_file), "db_file must not be empty")
    _require(config.log_level.upper() in LOG_LEVELS, f"log_level must be one of {', '.join(LOG_LEVELS)}")
    _require(config.logging.format in LOG_FORMATS, f"logging.format must be one of {', '.join(LOG_FORMATS)}")
    _require(
        config.security.registration in REGISTRATION_MODES,
        f"security.registration must be one of {', '.join(REGISTRATION_MODES)}",
    )
    _require(
        not config.seed.metrics_url or config.seed.metrics_url.startswith(("http://", "https://")),
        "seed.metrics_url must be an http:// or https:// URL",
    )
    client = config.http_client
    _require(1 <= client.pool_size <= 10_000, "http_client.pool_size must be between 1 and 10000")
    _require(1 <= client.pool_per_host <= client.pool_size, "http_client.pool_per_host must be in [1, pool_size]")
    _require(1 <= client.resolver_threads <= 1024, "http_client.resolver_threads must be between 1 and 1024")
    _require(0 < client.dns_timeout_seconds <= 60, "http_client.dns_timeout_seconds must be in (0, 60]")
    _require(all(server.strip() for server in client.dns_servers), "http_client.dns_servers must not hold empty names")
    _require(0 <= client.keepalive_seconds <= 3600, "http_client.keepalive_seconds must be in [0, 3600]")
    _require(0 < client.timeout_seconds <= 3600, "http_client.timeout_seconds must be in (0, 3600]")
    _require(0 <= client.response_excerpt_bytes <= 65536, "http_client.response_excerpt_bytes must be in [0, 65536]")
    _require(
        client.response_excerpt_bytes <= client.max_response_bytes <= 1024**3,
        "http_client.max_response_bytes must be between response_excerpt_bytes and 1 GiB",
    )
    _require(client.retry_backoff_seconds >= 0, "http_client.retry_backoff_seconds must be >= 0")
    _require(
        client.retry_backoff_max_seconds >= client.retry_backoff_seconds,
        "http_client.retry_backoff_max_seconds must be >= http_client.retry_backoff_seconds",
    )
    _require(1 <= client.max_clones <= 1000, "http_client.max_clones must be between 1 and 1000")
    for network in client.allow_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"http_client.allow_networks: {network!r} is not a network such as 10.0.0.0/8") from None
    sched = config.scheduler
    _require(sched.run_history_per_job >= 0, "scheduler.run_history_per_job must be >= 0 (0: no count limit)")
    _require(sched.run_history_max_age_days >= 0, "scheduler.run_history_max_age_days must be >= 0 (0: no age limit)")
    _require(sched.shutdown_grace_seconds >= 0, "scheduler.shutdown_grace_seconds must be >= 0")
    _require(0 < sched.flush_interval_seconds <= 10, "scheduler.flush_interval_seconds must be in (0, 10]")
    _require(10 <= sched.window_seconds <= 86400, "scheduler.window_seconds must be in [10, 86400]")
    api = config.api
    _require(api.max_body_bytes >= 1024, "api.max_body_bytes must be >= 1024")
    _require(1 <= api.default_page_size <= api.max_page_size, "api.default_page_size must be in [1, api.max_page_size]")
    _require(0 < api.idle_timeout_seconds <= 3600, "api.idle_timeout_seconds must be in (0, 3600]")
    _require(0 < api.body_timeout_seconds <= 3600, "api.body_timeout_seconds must be in (0, 3600]")
    _require(api.max_connections >= 0, "api.max_connections must be >= 0 (0: sized from the open files limit)")
    sec = config.security
    _require(4 <= sec.bcrypt_rounds <= 31, "security.bcrypt_rounds must be between 4 and 31")
    _require(sec.token_lifetime_days > 0, "security.token_lifetime_days must be > 0")
    _require(sec.service_token_lifetime_days > 0, "security.service_token_lifetime_days must be > 0")
    _require(sec.login_failures_per_user >= 1, "security.login_failures_per_user must be >= 1")
    _require(sec.login_failures_per_address >= 1, "security.login_failures_per_address must be >= 1")
    _require(sec.login_failures_global >= 1, "security.login_failures_global must be >= 1")
    _require(0 < sec.login_window_seconds <= 86400, "security.login_window_seconds must be in (0, 86400]")
    _require(
        config.sqlite.synchronous in SYNCHRONOUS_MODES,
        f"sqlite.synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}",
    )
    _require(config.quotas.max_jobs_per_user >= 1, "quotas.max_jobs_per_user must be >= 1")
    _require(config.quotas.min_interval_seconds >= 1, "quotas.min_interval_seconds must be >= 1")
    _require(config.quotas.max_runs_per_minute >= 1, "quotas.max_runs_per_minute must be >= 1")
    _require(0 < config.seed.request_timeout_seconds <= 3600, "seed.request_timeout_seconds must be in (0, 3600]")
    _require(0 <= config.seed.retries <= 10, "seed.retries must be between 0 and 10")
    cluster = config.cluster
    _require(1 <= cluster.lease_seconds <= 3600, "cluster.lease_seconds must be in [1, 3600]")
    _require(
        0 <= cluster.claim_ahead_seconds <= cluster.lease_seconds / 2,
        "cluster.claim_ahead_seconds must be in [0, cluster.lease_seconds / 2]",
    )
    _require(0.05 <= cluster.poll_interval_seconds <= 60, "cluster.poll_interval_seconds must be in [0.05, 60]")
    _require(0.1 <= cluster.reap_interval_seconds <= 60, "cluster.reap_interval_seconds must be in [0.1, 60]")
    _require(1 <= cluster.claim_batch <= 10_000, "cluster.claim_batch must be in [1, 10000]")
    _require(1 <= cluster.max_held <= 1_000_000, "cluster.max_held must be in [1, 1000000]")
    _require(cluster.role in ROLES, f"cluster.role must be one of {', '.join(ROLES)}")
    _require(
        cluster.role == "all" or config.database.startswith(("postgresql://", "postgres://")),
        f"cluster.role {cluster.role} needs a PostgreSQL database; a SQLite daemon is always all",
    )
    _require(1 <= config.audit.max_age_days <= 36_500, "audit.max_age_days must be in [1, 36500]")
