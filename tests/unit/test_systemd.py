"""deploy/veggiecron.service: systemd accepts it, it is sandboxed, and its settings are valid veggiecron settings."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from veggiecron.config_layers import load_settings

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "veggiecron.service"
SYSTEMD_UNITS = next((p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()), None)


def directives() -> list[tuple[str, str]]:
    pairs = []
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


@pytest.fixture
def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None or SYSTEMD_UNITS is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing in CI: .ci/run installs the systemd package")
        pytest.skip("systemd-analyze is not installed here (apt-get install systemd); .ci/run installs it in CI")
    return found


@pytest.fixture
def image(tmp_path: Path) -> Path:
    """A file-system root holding systemd's own units, the unit under test and the command it starts."""
    assert SYSTEMD_UNITS is not None
    shutil.copytree(SYSTEMD_UNITS, tmp_path / "usr/lib/systemd/system", symlinks=True)
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, tmp_path / "etc/systemd/system/veggiecron.service")
    command = tmp_path / "opt/veggiecron/bin/veggiecron"
    command.parent.mkdir(parents=True)
    command.write_text("#!/bin/sh\n")
    command.chmod(0o755)
    return tmp_path


def test_systemd_analyze_verify_accepts_the_unit(systemd_analyze: str, image: Path) -> None:
    done = subprocess.run(
        [systemd_analyze, "verify", f"--root={image}", "veggiecron.service"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""  # no warnings either: an unknown or misspelt directive is one


def test_systemd_rates_the_sandbox_ok(systemd_analyze: str, image: Path) -> None:
    done = subprocess.run(
        [systemd_analyze, "security", "--offline=true", f"--root={image}", "--threshold=20", "veggiecron.service"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Overall exposure level for veggiecron.service" in done.stdout
    assert " OK " in done.stdout.splitlines()[-1]


def test_the_unit_asks_for_the_sandbox() -> None:
    found = dict(directives())
    for key, value in {
        "DynamicUser": "yes",
        "PrivateTmp": "yes",
        "ProtectSystem": "strict",
        "StateDirectory": "veggiecron",
        "NoNewPrivileges": "yes",
        "KillSignal": "SIGTERM",
        "ExecStart": "/opt/veggiecron/bin/veggiecron serve",
    }.items():
        assert found.get(key) == value, key


def test_the_units_settings_are_valid_and_keep_the_database_in_the_state_directory(tmp_path: Path) -> None:
    environ = dict(value.split("=", 1) for key, value in directives() if key == "Environment")
    environ["VEGGIECRON_APP__KEY"] = "what-the-env-file-holds-0123456789"  # as README's steps write it
    config = load_settings(None, {}, environ, cwd=tmp_path).config
    assert config.app.env == "production"
    assert config.db_file == "/var/lib/veggiecron/veggiecron.db"
    assert config.host == "127.0.0.1"
