"""Settings in layers: defaults, then the config file, then the environment, then command-line flags.

Every key of config.py can be set from the environment as VEGGIECRON_<KEY>, sections joined by a
double underscore (VEGGIECRON_PORT, VEGGIECRON_HTTP_CLIENT__POOL_SIZE). Seed Scheduler's own
variables (SECRET_KEY, SCHEDULER_DATABASE, ...) set the same keys, so a service deployed with
Seed's environment switches without renaming anything; a VEGGIECRON_* name wins over them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, get_origin
from urllib.parse import urlsplit, urlunsplit

from .config import Config, ConfigError, build, canonical, database_url, field_types, read_file

ENV_PREFIX = "VEGGIECRON_"
CONFIG_ENV = "VEGGIECRON_CONFIG"  # the config file's path; not a key of the file itself
DEFAULT_CONFIG_FILE = "config.yaml"  # read from the working directory when present

# Seed Scheduler's environment variables and the keys they set.
SEED_ENV = {
    "SECRET_KEY": "app.key",
    "SCHEDULER_DATABASE": "database",
    "HOOK_AUTH_TOKEN": "seed.hook_auth_token",
    "USE_SSL": "seed.use_ssl",
    "SCHEDULER_SENTRY_DSN": "logging.sentry_dsn",
    "METRICS_URL": "seed.metrics_url",
    "METRICS_AUTH_USER": "seed.metrics_auth_user",
    "METRICS_AUTH_PASSWORD": "seed.metrics_auth_password",
    "DEFAULT_REQUEST_TIMEOUT": "seed.request_timeout_seconds",
}
# Values check-config never prints.
SECRET_KEYS = frozenset({"app.key", "seed.hook_auth_token", "seed.metrics_auth_password", "logging.sentry_dsn"})
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


def env_name(key: str) -> str:
    """The VEGGIECRON_* variable of a dotted key: http_client.pool_size -> VEGGIECRON_HTTP_CLIENT__POOL_SIZE."""
    return ENV_PREFIX + key.replace(".", "__").upper()


@dataclass(frozen=True)
class Settings:
    """The effective configuration and, for each key set by a layer, where its value came from."""

    config: Config
    sources: dict[str, str]
    config_file: Path | None


def load_settings(
    config_file: str | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """The layered configuration every command uses; raises ConfigError with one line."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    path = _config_path(config_file, environ, cwd)
    layers: list[dict[str, tuple[Any, str]]] = []
    if path is not None:
        layers.append({key: (value, f"file {path}") for key, value in read_file(path).items()})
    layers.extend(env_layers(environ))
    given = {key: value for key, value in (flags or {}).items() if value is not None}
    named = {key: f"flag --{key.rsplit('.', 1)[-1].replace('_', '-')}" for key in given}
    named.setdefault("database", named.get("db_file", ""))
    layers.append({key: (value, named[key]) for key, value in canonical(given, "command line").items()})
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer in layers:
        for key, (value, source) in layer.items():
            values[key] = value
            sources[key] = source
    try:
        config = build(values)
    except ConfigError as exc:
        raise ConfigError(_with_source(str(exc), sources)) from None
    return Settings(config, sources, path)


def _config_path(given: str | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """--config, else VEGGIECRON_CONFIG, else ./config.yaml when present; None: defaults only."""
    if given:
        return Path(given)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    default = cwd / DEFAULT_CONFIG_FILE
    return default if default.is_file() else None


def env_layers(environ: Mapping[str, str]) -> list[dict[str, tuple[Any, str]]]:
    """Seed's variables, then VEGGIECRON_* ones over them; an unknown VEGGIECRON_* name is an error."""
    types = field_types()
    seed: dict[str, tuple[Any, str]] = {}
    for name, key in SEED_ENV.items():
        if name in environ:
            seed[key] = (parse_value(environ[name], types[key], name), f"env {name}")
    own: dict[str, tuple[Any, str]] = {}
    for name, text in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        key = name[len(ENV_PREFIX) :].lower().replace("__", ".")
        if key not in types:
            raise ConfigError(f"unknown environment variable {name} (README's configuration table lists them)")
        own[key] = (parse_value(text, types[key], name), f"env {name}")
    if "db_file" in own:  # the older name of a SQLite database
        db_file = own.pop("db_file")
        if "database" in own and own["database"][0] != db_file[0]:
            raise ConfigError(f"{env_name('database')} and {env_name('db_file')} disagree; set one of them")
        own.setdefault("database", db_file)
    return [seed, own]


def parse_value(text: str, kind: Any, name: str) -> Any:
    """An environment variable's text as the key's type; ConfigError names the variable."""
    if kind is str:
        return text
    stripped = text.strip()
    if kind is bool:
        if stripped.lower() in TRUE:
            return True
        if stripped.lower() in FALSE:
            return False
        raise ConfigError(f"{name} must be true or false, got {text!r}")
    if kind is int:
        try:
            return int(stripped)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {text!r}") from None
    if kind is float:
        try:
            return float(stripped)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {text!r}") from None
    if get_origin(kind) is tuple:
        if stripped.startswith("["):
            try:
                items = json.loads(stripped)
            except json.JSONDecodeError:
                raise ConfigError(f"{name} must be a JSON list or comma-separated values, got {text!r}") from None
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ConfigError(f"{name} must be a list of strings, got {text!r}")
            return items
        return [item.strip() for item in stripped.split(",") if item.strip()]
    raise ConfigError(f"{name}: unsupported setting type {kind!r}")  # pragma: no cover - every key is typed


def _with_source(message: str, sources: dict[str, str]) -> str:
    """Say where a refused value came from when it was not the config file's own line."""
    key = message.split(" ", 1)[0].rstrip(":")
    source = sources.get(key)
    if source is None or source.startswith("file "):
        return message
    return f"{message} (set by {source})"


def masked(key: str, value: Any) -> str:
    """A value as check-config prints it: secrets as ****, passwords inside URLs hidden."""
    if key in SECRET_KEYS:
        return "****" if value else "(empty)"
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    if isinstance(value, tuple):
        return json.dumps(list(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == "":
        return '""'
    return str(value)


def mask_url(url: str) -> str:
    """The URL with any password replaced by ****."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:****@{host}"))


def effective_values(config: Config) -> dict[str, Any]:
    """Every key's effective value, dotted, with the database as one URL."""
    found: dict[str, Any] = {}

    def walk(section: Any, prefix: str) -> None:
        for f in fields(section):
            value = getattr(section, f.name)
            if is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")
            else:
                found[prefix + f.name] = value

    walk(config, "")
    del found["db_file"]
    found["database"] = database_url(config)
    return found


def describe(settings: Settings) -> list[str]:
    """check-config's lines: `key = value  (source)`, secrets masked, in the order of config.py."""
    values = effective_values(settings.config)
    width = max(len(key) for key in values)
    lines = [f"config file: {settings.config_file or '(none; defaults, environment and flags only)'}"]
    for key, value in values.items():
        lines.append(f"{key.ljust(width)} = {masked(key, value)}  ({settings.sources.get(key, 'default')})")
    return lines
