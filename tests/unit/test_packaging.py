"""The package: a build backend, its dependencies, the `veggiecron` command, requirement files in step."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement_lines(name: str) -> list[str]:
    lines = [line.strip() for line in (ROOT / name).read_text().splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "-r "))]


def test_pyproject_declares_a_build_backend_and_the_command() -> None:
    project = pyproject()
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    assert project["project"]["scripts"] == {"veggiecron": "veggiecron.cli:main"}
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["veggiecron*"]


def test_runtime_dependencies_are_requirements_txt() -> None:
    project = pyproject()
    assert "dependencies" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}
    names = {line.split(">")[0].split("<")[0].split(";")[0].strip() for line in requirement_lines("requirements.txt")}
    assert {"tornado", "aiosqlite", "aiohttp", "bcrypt", "PyYAML", "orjson"} <= names


def test_the_dev_extra_is_requirements_dev_txt() -> None:
    assert (ROOT / "requirements-dev.txt").read_text().splitlines()[0] == "-r requirements.txt"
    assert pyproject()["project"]["optional-dependencies"]["dev"] == requirement_lines("requirements-dev.txt")


def test_sentry_is_an_optional_extra() -> None:
    extras = pyproject()["project"]["optional-dependencies"]
    assert [r.split(">")[0] for r in extras["sentry"]] == ["sentry-sdk"]
    assert not any("sentry" in line for line in requirement_lines("requirements.txt"))
