"""README.rst's examples, run in order as written against a fresh server, so the docs cannot drift from the code.

The examples are the `$ ` lines of README's ``.. code-block:: bash`` blocks, in document order, in
one bash session (so TOKEN=... carries on). Two things differ from a reader's machine: the server
listens on a free port instead of 8118, and example.org URLs lead to a local sink instead of the
internet. A JSON answer the README shows after a command must match the real answer: its keys
exist, and its texts and flags are equal (times, tokens and ids vary).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.commands import ROOT, START, Served, clean_env
from tests.helpers import Sink

pytestmark = pytest.mark.slow

README = ROOT / "README.rst"
# Values that differ from run to run: compared by their presence only.
VARYING = re.compile(r"^(token|id|url|created_by|updated_by|next_send_at)$|(_at|_utc|^date_\w+)$")


@dataclass
class Example:
    line: int
    command: str
    shown: str  # the answer README shows after the command, or ""


def examples(text: str) -> list[Example]:
    found: list[Example] = []
    in_block = False
    current: Example | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.strip() == ".. code-block:: bash":
            in_block, current = True, None
            continue
        if in_block and raw and not raw.startswith(" "):
            in_block, current = False, None
        if not in_block:
            continue
        line = raw.strip()
        if line.startswith("$ "):
            current = Example(number, line[2:], "")
            found.append(current)
        elif current is not None and not current.shown and unfinished(current.command):
            current.command += "\n" + line
        elif current is not None and line and not line.startswith("#"):
            current.shown += line + "\n"
        else:
            current = None if not line or line.startswith("#") else current
    return found


def unfinished(command: str) -> bool:
    """A command continued on the next line: a trailing backslash, or a quote still open."""
    if command.endswith("\\"):
        return True
    try:
        shlex.split(command)
    except ValueError:
        return True
    return False


def conforms(shown: Any, actual: Any, where: str = "") -> list[str]:
    """Where the real answer differs from the one shown: missing keys, different texts or flags."""
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{where or 'answer'}: an object is shown, got {actual!r}"]
        problems = []
        for key, value in shown.items():
            if key not in actual:
                problems.append(f"{where}{key}: shown, but not in the answer")
            elif not (VARYING.search(key) and not (key == "id" and value in ("success", "error"))):
                problems += conforms(value, actual[key], f"{where}{key}.")
        return problems
    if isinstance(shown, list):
        return conforms(shown[0], actual[0], f"{where}0.") if shown and actual else []
    if isinstance(shown, str | bool) or shown is None:
        return [] if shown == actual else [f"{where.rstrip('.')}: shown {shown!r}, got {actual!r}"]
    return []


def test_examples_are_found_in_every_part() -> None:
    found = examples(README.read_text())
    commands = "\n".join(e.command for e in found)
    for part in ("/register", "/login", "/tokens", "/logout", "/job", "/run", "/health", "create-admin"):
        assert part in commands, part
    for part in ("/api/v1/schedule/", "/api/v1/webhook/", "/api/v1/failed-tasks/", "/api/metrics/"):
        assert part in commands, part
    assert sum(1 for e in found if e.shown) >= 3


def test_readme_names_no_id_that_a_clean_database_lacks() -> None:
    """Ids come from earlier answers ($LAPTOP_ID, $SCHEDULE, $HOOK), never a number that may not exist."""
    for example in examples(README.read_text()):
        assert not re.search(r"/(tokens|user|failed-tasks|webhook|group)/\d+", example.command), example.command
        assert "<" not in example.command, example.command


def test_readme_links_only_what_a_clone_has() -> None:
    text = README.read_text()
    assert "../" not in text
    for path in re.findall(r"``((?:deploy|tests|bench|veggiecron)/[\w./]+)``", text):
        assert (ROOT / path).exists(), path


async def test_readme_examples_run_in_order_against_a_fresh_server(tmp_path: Path, sink: Sink) -> None:
    for tool in ("curl", "jq"):
        if shutil.which(tool) is None:
            if os.environ.get("CI"):
                pytest.fail(f"{tool} is missing in CI: .ci/run installs it")
            pytest.skip(f"{tool} is not installed here; .ci/run installs it in CI")
    # `veggiecron` as README's reader has it after `pip install .`: here this tree's start.py.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "veggiecron").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{START}" "$@"\n')
    (bin_dir / "veggiecron").chmod(0o755)
    env = clean_env(
        VEGGIECRON_PORT="0",
        VEGGIECRON_DATABASE=str(tmp_path / "readme.db"),
        PATH=f"{bin_dir}:{os.environ['PATH']}",
    )
    server = Served(tmp_path, env, tmp_path / "server.log")
    await server.start()
    try:
        found = examples(README.read_text())

        def local(text: str) -> str:
            text = text.replace("localhost:8118", f"127.0.0.1:{server.port}")
            return re.sub(r"https://(service\.)?example\.org", sink.url, text)

        outputs = tmp_path / "out"
        outputs.mkdir()
        script = [
            "set -euo pipefail",
            # Every HTTP error fails the example that got it, with the answer's body on stderr;
            # no proxy: every URL here is on this machine.
            """curl() { command curl --fail-with-body -sS --noproxy '*' "$@"; }""",
        ]
        for number, example in enumerate(found):
            script.append(f"echo {number} > {outputs / 'progress'}")
            script.append(f"{{ {local(example.command)}\n}} > {outputs / str(number)}")
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            "\n".join(script),
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        if process.returncode != 0:
            failed = found[int((outputs / "progress").read_text())]
            answer_file = outputs / (outputs / "progress").read_text().strip()
            answer = answer_file.read_text() if answer_file.exists() else ""
            raise AssertionError(
                f"README.rst line {failed.line} failed:\n{failed.command}\n{err.decode()}{answer}\n"
                f"server log:\n{server.log.read_text()[-2000:]}"
            )
        problems = []
        for number, example in enumerate(found):
            if example.shown:
                shown = json.loads(local(example.shown))
                actual = json.loads((outputs / str(number)).read_text())
                problems += [f"README.rst line {example.line}: {p}" for p in conforms(shown, actual)]
        assert not problems, "\n".join(problems)
        # The jobs README creates call their URLs: run-now reached the (local) example.org.
        assert sink.paths("/health"), "POST /job/ping/run did not reach https://example.org/health"
    finally:
        assert await server.stop() == 0
    assert "Traceback" not in server.log.read_text()
