"""The Containerfile's promises that need no build: one file under both names, settings left to its
ENV (so a user's environment overrides them, under either the veggiecron or the Seed name), and a
build context that holds the package's sources only. tests/e2e/test_image.py builds and starts it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from veggiecron.config import ConfigError
from veggiecron.config_layers import load_settings

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Containerfile, continuation lines joined, comments dropped."""
    lines = [line for line in (ROOT / "Containerfile").read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def image_env() -> dict[str, str]:
    """The final stage's ENV, without PATH (it expands the base's)."""
    env: dict[str, str] = {}
    for word, rest in final_stage():
        if word == "ENV":
            for item in shlex.split(rest):
                name, _, value = item.partition("=")
                env[name] = value
    env.pop("PATH")
    return env


def test_dockerfile_and_containerfile_are_one_file_and_so_are_the_ignore_files() -> None:
    assert (ROOT / "Dockerfile").read_bytes() == (ROOT / "Containerfile").read_bytes()
    assert (ROOT / ".dockerignore").read_bytes() == (ROOT / ".containerignore").read_bytes()


def test_the_build_context_is_the_package_sources_only() -> None:
    rules = [line.strip() for line in (ROOT / ".containerignore").read_text().splitlines()]
    rules = [rule for rule in rules if rule and not rule.startswith("#")]
    assert rules[0] == "*"  # everything out, then the sources back in
    assert sorted(rule for rule in rules if rule.startswith("!")) == [
        "!README.rst",
        "!pyproject.toml",
        "!requirements.txt",
        "!veggiecron/",
    ]
    assert "**/*.db" in rules  # a local database inside veggiecron/ stays out too


def test_the_base_is_an_argument_and_the_entry_is_exec_form_without_settings() -> None:
    steps = instructions()
    assert steps[0] == ("ARG", "BASE=python:3.12-slim")
    assert [rest for word, rest in steps if word == "FROM"] == ["${BASE} AS build", "${BASE}"]
    final = dict(final_stage())
    assert final["ENTRYPOINT"] == '["veggiecron"]' and final["CMD"] == '["serve"]'
    assert final["USER"] == "veggiecron" and final["VOLUME"] == "/data" and final["EXPOSE"] == "8118"
    words = [word for word, _ in final_stage()]
    assert words.index("USER") < words.index("VOLUME")  # /data is made and owned before VOLUME
    assert "/health" in final["HEALTHCHECK"] and "CMD [" in final["HEALTHCHECK"]


def test_the_image_environment_alone_serves_production_on_every_interface_from_data(tmp_path: Path) -> None:
    env = image_env()
    with pytest.raises(ConfigError, match="SECRET_KEY"):  # the shipped key is refused in production
        load_settings(environ=env, cwd=tmp_path)
    config = load_settings(environ={**env, "SECRET_KEY": "a-key-of-my-own-0123"}, cwd=tmp_path).config
    assert (config.app.env, config.host, config.port) == ("production", "0.0.0.0", 8118)
    assert (config.database, config.db_file) == ("", "/data/veggiecron.db")
    assert config.app.key == "a-key-of-my-own-0123"


@pytest.mark.parametrize("name", ["VEGGIECRON_DATABASE", "SCHEDULER_DATABASE"])
def test_a_users_database_under_either_name_replaces_the_images(name: str, tmp_path: Path) -> None:
    url = "postgresql://veggiecron:pw@db/veggiecron"
    environ = {**image_env(), "VEGGIECRON_APP__KEY": "a-key-of-my-own-0123", name: url}
    config = load_settings(environ=environ, cwd=tmp_path).config
    assert config.database == url


def test_a_users_port_and_host_replace_the_images(tmp_path: Path) -> None:
    environ = {**image_env(), "SECRET_KEY": "a-key-of-my-own-0123", "VEGGIECRON_PORT": "9000"}
    environ["VEGGIECRON_HOST"] = "127.0.0.1"
    config = load_settings(environ=environ, cwd=tmp_path).config
    assert (config.host, config.port) == ("127.0.0.1", 9000)


def test_the_compose_example_runs_three_nodes_on_one_postgresql(tmp_path: Path) -> None:
    """compose.yaml's nodes, their environment as compose substitutes it, over the image's ENV."""
    given = {"APP_KEY": "a-key-of-my-own-0123", "DB_PASSWORD": "pw"}

    def substituted(text: str) -> str:
        return re.sub(r"\$\{(\w+)(:\?[^}]*)?\}", lambda m: given[m.group(1)], text)

    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    nodes = {name: service for name, service in services.items() if name.startswith("node-")}
    assert len(nodes) == 3
    configs = []
    for service in nodes.values():
        environ = {**image_env(), **{k: substituted(str(v)) for k, v in service["environment"].items()}}
        configs.append(load_settings(environ=environ, cwd=tmp_path).config)
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert float(service["stop_grace_period"].rstrip("s")) > configs[-1].scheduler.shutdown_grace_seconds
    assert {config.database for config in configs} == {"postgresql://veggiecron:pw@db/veggiecron"}
    assert {config.app.key for config in configs} == {"a-key-of-my-own-0123"}
    assert len({config.cluster.node_name for config in configs}) == 3
    assert len({service["ports"][0].split(":")[0] for service in nodes.values()}) == 3
    assert all(config.security.registration == "admin" for config in configs)
