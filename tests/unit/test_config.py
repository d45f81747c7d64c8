"""Config loading: defaults, overrides, and one clear error per problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from veggiecron.config import SHIPPED_APP_KEY, ConfigError, field_types, load_config

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_shipped_config_loads_with_documented_defaults() -> None:
    config = load_config(ROOT / "config.yaml")
    assert (config.host, config.port, config.app.env) == ("127.0.0.1", 8118, "development")
    assert config.db_file.endswith(".db")
    assert config.app.key == SHIPPED_APP_KEY


def test_shipped_config_is_the_defaults_key_for_key() -> None:
    """config.yaml documents every key at its default: a key added to config.py must be added there."""
    assert load_config(ROOT / "config.yaml") == load_config(None)
    text = (ROOT / "config.yaml").read_text()
    for key in field_types():
        if key != "db_file":  # the older name of `database`
            assert f"{key.rsplit('.', 1)[-1]}:" in text, key


def test_the_default_bind_is_loopback_only() -> None:
    assert load_config(None).host == "127.0.0.1"


@pytest.mark.parametrize(
    ("database", "db_file", "postgres"),
    [
        ("sqlite:///data/vc.db", "data/vc.db", ""),
        ("sqlite:////srv/vc/vc.db", "/srv/vc/vc.db", ""),
        ("plain/path.db", "plain/path.db", ""),
        ("postgresql://vc:pw@db.internal/vc", "veggiecron.db", "postgresql://vc:pw@db.internal/vc"),
        ("postgres://vc@db/vc", "veggiecron.db", "postgres://vc@db/vc"),
    ],
)
def test_database_urls(tmp_path: Path, database: str, db_file: str, postgres: str) -> None:
    config = load_config(write(tmp_path, f"database: {database!r}\n"))
    assert (config.db_file, config.database) == (db_file, postgres)


def test_db_file_is_the_older_name_of_database(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "db_file: old.db\n")).db_file == "old.db"
    # A later layer's db_file wins over an earlier database, whatever their names.
    config = load_config(write(tmp_path, "database: postgresql://h/db\n"), {"db_file": "flag.db"})
    assert (config.database, config.db_file) == ("", "flag.db")
    with pytest.raises(ConfigError, match="database or db_file, not both"):
        load_config(write(tmp_path, "database: a.db\ndb_file: b.db\n"))


def test_overrides_win_over_the_file(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, "port: 9000\nhost: 127.0.0.1\n"), {"port": 9100, "db_file": "x.db", "host": None}
    )
    assert (config.port, config.db_file, config.host) == (9100, "x.db", "127.0.0.1")


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")).port == 8118


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port: eighty\n", "port must be int"),
        ("port: 70000\n", "port must be between"),
        ("app:\n  env: staging\n", "app.env must be one of"),
        ("colour: blue\n", "unknown config key: colour"),
        ("app:\n  nmae: x\n", "unknown config key: app.nmae"),
        ("http_client:\n  pool_size: true\n", "http_client.pool_size must be int"),
        ("scheduler:\n  window_seconds: 5\n", "scheduler.window_seconds must be in"),
        ("app: [1, 2]\n", "app must be a mapping"),
        ("port: [1\n", "line"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("app:\n  env: production\n", "shipped default"),
        ("app:\n  key: short\n", "at least 16"),
        ("log_level: LOUD\n", "log_level must be one of"),
        ("database: mysql://h/db\n", "unknown scheme 'mysql'"),
        ("database: 'sqlite://'\n", "names a file"),
        ("logging:\n  format: xml\n", "logging.format must be one of"),
        ("security:\n  registration: maybe\n", "security.registration must be one of"),
        ("seed:\n  metrics_url: ftp://m\n", "seed.metrics_url must be an http"),
        ("seed:\n  use_ssl: sometimes\n", "seed.use_ssl must be bool"),
        ("cluster:\n  role: worker\n", "cluster.role must be one of all, api, scheduler"),
        ("cluster:\n  role: api\n", "cluster.role api needs a PostgreSQL database; a SQLite daemon is always all"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_production_with_own_key_starts(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "app:\n  env: production\n  key: a-long-secret-of-our-own\n"))
    assert config.app.env == "production"


@pytest.mark.parametrize("text", ["port: [1\n", "colour: blue\n", "app:\n  env: production\n"])
def test_start_py_exits_2_with_one_line_and_no_traceback(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    done = subprocess.run(
        [sys.executable, "start.py", "--config", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("veggiecron: config error:")


def test_start_py_missing_config_file(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "start.py", "--config", str(tmp_path / "none.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "not found" in done.stderr and "Traceback" not in done.stderr
