"""Settings in layers: defaults, config file, Seed's and VEGGIECRON_* environment, flags; and check-config."""

from __future__ import annotations

from pathlib import Path

import pytest

from veggiecron.config import ConfigError, field_types
from veggiecron.config_layers import SEED_ENV, Settings, describe, env_name, load_settings

KEY = "a-secret-of-our-own-0123456789"


def settings(
    tmp_path: Path, env: dict[str, str], flags: dict[str, object] | None = None, config: str | None = None
) -> Settings:
    if config is not None:
        (tmp_path / "config.yaml").write_text(config)
    return load_settings(None, flags or {}, env, cwd=tmp_path)


def test_no_config_file_and_no_environment_means_defaults(tmp_path: Path) -> None:
    loaded = settings(tmp_path, {})
    assert loaded.config_file is None
    assert (loaded.config.host, loaded.config.port, loaded.config.db_file) == ("127.0.0.1", 8118, "veggiecron.db")
    assert loaded.sources == {}


def test_every_key_has_an_environment_variable(tmp_path: Path) -> None:
    assert env_name("http_client.pool_size") == "VEGGIECRON_HTTP_CLIENT__POOL_SIZE"
    env = {
        "VEGGIECRON_PORT": "9001",
        "VEGGIECRON_HOST": "0.0.0.0",
        "VEGGIECRON_HTTP_CLIENT__POOL_SIZE": "300",
        "VEGGIECRON_HTTP_CLIENT__TIMEOUT_SECONDS": "2.5",
        "VEGGIECRON_HTTP_CLIENT__ALLOW_NETWORKS": "10.1.0.0/16, 10.2.0.0/16",
        "VEGGIECRON_SEED__USE_SSL": "yes",
        "VEGGIECRON_LOGGING__FORMAT": "json",
        "VEGGIECRON_SECURITY__REGISTRATION": "admin",
    }
    config = settings(tmp_path, env).config
    assert (config.port, config.host, config.http_client.pool_size) == (9001, "0.0.0.0", 300)
    assert config.http_client.timeout_seconds == 2.5
    assert config.http_client.allow_networks == ("10.1.0.0/16", "10.2.0.0/16")
    assert config.seed.use_ssl is True
    assert (config.logging.format, config.security.registration) == ("json", "admin")
    # Every key, not only these: each one's variable is accepted.
    for key in field_types():
        assert env_name(key).startswith("VEGGIECRON_")


def test_the_role_comes_from_the_file_the_environment_or_the_flag(tmp_path: Path) -> None:
    database = "database: postgresql://vc@db.internal/vc\n"
    from_file = settings(tmp_path, {}, {}, config=database + "cluster:\n  role: scheduler\n")
    assert from_file.config.cluster.role == "scheduler"
    from_env = settings(tmp_path, {"VEGGIECRON_CLUSTER__ROLE": "api"}, {}, config=database)
    assert from_env.config.cluster.role == "api"
    assert from_env.sources["cluster.role"] == "env VEGGIECRON_CLUSTER__ROLE"
    from_flag = settings(tmp_path, {"VEGGIECRON_CLUSTER__ROLE": "api"}, {"cluster.role": "scheduler"}, config=database)
    assert from_flag.config.cluster.role == "scheduler"
    assert from_flag.sources["cluster.role"] == "flag --role"
    assert settings(tmp_path, {}, {}, config=database).config.cluster.role == "all"


def test_layers_in_order_file_then_environment_then_flags(tmp_path: Path) -> None:
    loaded = settings(
        tmp_path,
        {"VEGGIECRON_PORT": "9002", "VEGGIECRON_LOG_LEVEL": "DEBUG"},
        {"port": 9003},
        config="port: 9001\nlog_level: WARNING\napp:\n  name: from-file\n",
    )
    config = loaded.config
    assert (config.port, config.log_level, config.app.name) == (9003, "DEBUG", "from-file")
    assert loaded.sources["port"] == "flag --port"
    assert loaded.sources["log_level"] == "env VEGGIECRON_LOG_LEVEL"
    assert loaded.sources["app.name"] == f"file {tmp_path / 'config.yaml'}"


def test_veggiecron_config_names_the_file(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.yaml"
    other.write_text("port: 9100\n")
    assert load_settings(None, {}, {"VEGGIECRON_CONFIG": str(other)}, cwd=tmp_path).config.port == 9100
    with pytest.raises(ConfigError, match="not found"):
        load_settings(None, {}, {"VEGGIECRON_CONFIG": str(tmp_path / "missing.yaml")}, cwd=tmp_path)


def test_seed_scheduler_environment_sets_the_same_keys(tmp_path: Path) -> None:
    env = {
        "SECRET_KEY": KEY,
        "SCHEDULER_DATABASE": "sqlite:///seed.db",
        "HOOK_AUTH_TOKEN": "hook-token",
        "USE_SSL": "True",
        "SCHEDULER_SENTRY_DSN": "https://public@sentry.example.org/1",
        "METRICS_URL": "http://metrics.example.org/",
        "METRICS_AUTH_USER": "metrics-user",
        "METRICS_AUTH_PASSWORD": "metrics-password",
        "DEFAULT_REQUEST_TIMEOUT": "12",
    }
    loaded = settings(tmp_path, env)
    config = loaded.config
    assert config.app.key == KEY and config.db_file == "seed.db"
    assert config.seed.hook_auth_token == "hook-token" and config.seed.use_ssl is True
    assert config.logging.sentry_dsn == "https://public@sentry.example.org/1"
    assert (config.seed.metrics_url, config.seed.metrics_auth_user, config.seed.metrics_auth_password) == (
        "http://metrics.example.org/",
        "metrics-user",
        "metrics-password",
    )
    assert config.seed.request_timeout_seconds == 12.0
    assert loaded.sources["app.key"] == "env SECRET_KEY"
    assert set(SEED_ENV) == set(env)


def test_a_veggiecron_name_wins_over_seeds(tmp_path: Path) -> None:
    loaded = settings(tmp_path, {"SECRET_KEY": "seed-key-0123456789", "VEGGIECRON_APP__KEY": KEY})
    assert loaded.config.app.key == KEY
    assert loaded.sources["app.key"] == "env VEGGIECRON_APP__KEY"
    loaded = settings(tmp_path, {"SCHEDULER_DATABASE": "seed.db", "VEGGIECRON_DB_FILE": "own.db"})
    assert loaded.config.db_file == "own.db"


def test_postgresql_is_accepted_by_configuration(tmp_path: Path) -> None:
    config = settings(tmp_path, {"SCHEDULER_DATABASE": "postgres://seed:pw@db.internal/seed_scheduler"}).config
    assert config.database == "postgres://seed:pw@db.internal/seed_scheduler"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VEGGIECRON_PROT": "80"}, "unknown environment variable VEGGIECRON_PROT"),
        ({"VEGGIECRON_PORT": "eighty"}, "VEGGIECRON_PORT must be an integer"),
        ({"VEGGIECRON_PORT": "70000"}, r"port must be between 0 and 65535 \(set by env VEGGIECRON_PORT\)"),
        ({"USE_SSL": "maybe"}, "USE_SSL must be true or false"),
        ({"SECRET_KEY": "short"}, r"at least 16 characters \(set by env SECRET_KEY\)"),
        ({"VEGGIECRON_APP__ENV": "production"}, "VEGGIECRON_APP__KEY or SECRET_KEY"),
        ({"VEGGIECRON_DATABASE": "a.db", "VEGGIECRON_DB_FILE": "b.db"}, "disagree"),
        ({"VEGGIECRON_HTTP_CLIENT__ALLOW_NETWORKS": "[1, 2]"}, "list of strings"),
    ],
)
def test_bad_environment_is_one_clear_error(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(tmp_path, env)


def test_check_config_masks_secrets_and_names_sources(tmp_path: Path) -> None:
    loaded = settings(
        tmp_path,
        {
            "SECRET_KEY": KEY,
            "SCHEDULER_DATABASE": "postgresql://vc:db-password@db/vc",
            "METRICS_AUTH_PASSWORD": "metrics-password",
            "VEGGIECRON_SEED__HOOK_AUTH_TOKEN": "hook-token",
            "SCHEDULER_SENTRY_DSN": "https://sentry-key@sentry.example.org/1",
        },
        {"port": 9999},
    )
    text = "\n".join(describe(loaded))
    for secret in (KEY, "db-password", "metrics-password", "hook-token", "sentry-key"):
        assert secret not in text
    lines = {line.split(" = ")[0].strip(): line for line in describe(loaded)[1:]}
    assert set(lines) == (set(field_types()) - {"db_file"}) | {"database"}
    assert lines["app.key"].endswith("= ****  (env SECRET_KEY)")
    assert "postgresql://vc:****@db/vc  (env SCHEDULER_DATABASE)" in lines["database"]
    assert lines["port"].endswith("= 9999  (flag --port)")
    assert lines["api.max_page_size"].endswith("= 500  (default)")
    flagged = settings(tmp_path, {}, {"db_file": "flag.db"})
    assert "sqlite:///flag.db  (flag --db-file)" in "\n".join(describe(flagged))


def test_readme_configuration_table_names_every_key_and_both_variables() -> None:
    text = (Path(__file__).resolve().parents[2] / "README.rst").read_text()
    table = text[text.index("\nConfiguration\n") : text.index("\nOperating veggiecron\n")]
    rows = table.split("   * - ")[2:]  # after the header row
    listed = {}
    for row in rows:
        key = row.split("``")[1]
        listed[key] = row
    assert set(listed) == (set(field_types()) - {"db_file"}) | {"database"}
    for key, row in listed.items():
        assert f"``{env_name(key)}``" in row, key
    for name, key in SEED_ENV.items():
        assert f"``{name}``" in listed[key], name
