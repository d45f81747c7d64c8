"""Fuzz both APIs with schemathesis against a real `python start.py`, for a bounded time.

    python -m bench.fuzz                      # 180 s, every phase, every check, a new random seed
    python -m bench.fuzz --seconds 600 --seed 7 --phases fuzzing,stateful   # replay seed 7, longer

Without --seed each run draws a new seed, so runs before a release explore new cases; the seed is
printed first and last, and any failure found replays with `--seed N` (and the same --seconds,
--phases and --workers).

The server runs on a temporary config and database (started by tests/daemon.py), with outbound requests
confined to loopback: every URL a generated request carries (data.url, notify_url, a Seed
endpoint or webhook target) is rewritten to a local sink before it is sent, and the server itself
refuses every non-loopback destination. schemathesis (`st run`) loads GET /openapi.json and runs
every check (--checks all): no answer is a 5xx, every answer conforms to the document (status
code, content type, headers, body schema), every schema-valid request is accepted (ST202) and
every schema-violating one refused (ST201). POST /logout and DELETE /tokens/{token_id} are left
out: they end the fuzzer's own session. The exit status is non-zero when it found a failure or
the server logged a traceback. Its reports (JUnit, NDJSON), its cache and the server's log and
database are kept in --report-dir (a new temporary directory unless given), so runs do not share
state; the last lines count the cases generated and the failures by code.

The pieces shared with tests/api/test_openapi.py live here too: the URL confinement, the token
auth provider, the loopback-only outbound policy and the schemathesis configuration (ST_CONFIG).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import orjson

if TYPE_CHECKING:
    from tests.daemon import Daemon

ROOT = Path(__file__).resolve().parents[1]
FUZZ_USER = "fuzzer"
FUZZ_PASSWORD = "fuzz-pass-0123"
# Operations that end the fuzzer's own session (its token revoked): every later request would be a 401.
EXCLUDED_OPERATIONS = ("logout", "revokeToken")
URL_FIELDS = ("url", "notify_url", "endpoint", "target")
# A job may run after another of its owner's jobs ("after <name>"); a name that is none of them is
# refused (400), a rule no schema can say. Generated followers run after this job, made with the
# fuzz user (make_parent), so that the grammar around the name is still exercised. Only a schedule
# that is valid as generated is rewritten, and only into one as valid (names of the grammar, ASCII
# spaces, 200 characters at most): a schema-violating case must stay one, and the reverse.
PARENT_JOB = "fuzz-parent"
_AFTER = r"^([ \t\n\r\f\v]*after[ \t\n\r\f\v]+)"  # ASCII spaces, as the schedule grammar reads them


# ---------------------------------------------------------------------------------------------
# Confinement: generated requests may only make the server call loopback
# ---------------------------------------------------------------------------------------------


def confine_url(value: Any, target: str) -> Any:
    """An http(s) URL with a host, moved onto `target` (scheme://host:port); anything else as is.

    What the server would refuse anyway (not a URL, another scheme, no host) is left alone so the
    fuzzer still exercises validation.
    """
    if not isinstance(value, str):
        return value
    try:
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return value
    except ValueError:
        return value
    local = urlsplit(target)
    return urlunsplit((local.scheme, local.netloc, parts.path, parts.query, parts.fragment))


def confine_body(body: Any, target: str, top: bool = True) -> Any:
    """A request body whose URL-bearing fields (also inside `data`, as an object or JSON text) point at `target`."""
    if not isinstance(body, dict):
        return body
    body = dict(body)
    for key in URL_FIELDS:
        if key in body:
            body[key] = confine_url(body[key], target)
    if top and isinstance(body.get("schedule"), str):
        body["schedule"] = follow_parent(body["schedule"])
    data = body.get("data")
    if isinstance(data, dict):
        body["data"] = confine_body(data, target, top=False)
    elif isinstance(data, str):
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("url"), str):
            body["data"] = orjson.dumps({**parsed, "url": confine_url(parsed["url"], target)}).decode()
    return body


def follow_parent(schedule: str) -> str:
    """An `after <name>` schedule made to name PARENT_JOB, when it is valid before and after."""
    from veggiecron.grammar import is_schedule
    from veggiecron.schedule_reader import JOB_NAME
    from veggiecron.schedules import MAX_SCHEDULE_LENGTH

    followed = re.sub(_AFTER + JOB_NAME.pattern, lambda m: m.group(1) + PARENT_JOB, schedule, count=1, flags=re.I)
    if followed == schedule or max(len(followed), len(schedule)) > MAX_SCHEDULE_LENGTH:
        return schedule
    return followed if is_schedule(schedule) and is_schedule(followed) else schedule


def confine_case(case: Any, target: str) -> None:
    """Rewrite a schemathesis Case's body in place (see confine_body).

    A form body is sent as schemathesis serialises it, objects as bracketed fields
    (data[url]=...&data[success_codes][0]=200), as a client generated from the document would:
    the server must take it.

    PARENT_JOB is kept as made: a request naming it in its path (a link from the job list leads
    there) names another job, which does not exist (404), so that no sequence changes or deletes it
    and no follower is made to follow itself.
    """
    parameters = getattr(case, "path_parameters", None)
    if isinstance(parameters, dict) and parameters.get("name") == PARENT_JOB:
        case.path_parameters = {**parameters, "name": PARENT_JOB + "-not"}
    if isinstance(case.body, dict):
        confined = confine_body(case.body, target)
        if confined != case.body:
            case.body = confined


def loopback_only(policy: Any) -> None:
    """Make an OutboundPolicy refuse every destination but loopback (a fuzzed job may not call out)."""

    def denies(address: Any) -> str | None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return None if address.is_loopback else "fuzzing: only loopback destinations are allowed"

    policy.denies = denies


# ---------------------------------------------------------------------------------------------
# Auth: log in as the fuzz user; schemathesis logs in again when an answer is 401
# ---------------------------------------------------------------------------------------------


class TokenAuth:
    """A schemathesis auth provider: a token from POST /login, sent in X-Auth-Token.

    Fuzzed requests may revoke it (POST /logout, DELETE /tokens/{id}); the 401 that follows makes
    schemathesis fetch a new one.
    """

    base_url = ""
    username = FUZZ_USER
    password = FUZZ_PASSWORD

    def get(self, case: Any, ctx: Any) -> str:
        import requests

        response = requests.post(
            f"{self.base_url}/login", json={"username": self.username, "password": self.password}, timeout=30
        )
        response.raise_for_status()
        return str(response.json()["data"]["token"])

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "X-Auth-Token": data}


def register(base_url: str, username: str = FUZZ_USER, password: str = FUZZ_PASSWORD) -> None:
    import requests

    response = requests.post(f"{base_url}/register", json={"username": username, "password": password}, timeout=30)
    if response.status_code not in (201, 409):
        raise RuntimeError(f"cannot register the fuzz user: {response.status_code} {response.text}")


def make_parent(base_url: str, token: str) -> None:
    """The fuzz user's PARENT_JOB (disabled: it never runs), unless it exists."""
    import requests

    response = requests.post(
        f"{base_url}/job",
        json={
            "name": PARENT_JOB,
            "data": {"url": "http://127.0.0.1:9/"},
            "schedule": "every 1 days @ 00:00",
            "enabled": False,
        },
        headers={"X-Auth-Token": token},
        timeout=30,
    )
    if response.status_code not in (201, 409):
        raise RuntimeError(f"cannot create {PARENT_JOB}: {response.status_code} {response.text}")


# ---------------------------------------------------------------------------------------------
# The long run: `python start.py` in a subprocess, `st run` against it
# ---------------------------------------------------------------------------------------------

# Run inside the server process: confine outbound requests to loopback, and serve /openapi.json
# and /docs even before make_app lists them.
LAUNCHER = """
import logging, sys
sys.argv[0] = "start.py"
import start
import veggiecron.app as app
from veggiecron.api import openapi
from veggiecron.outbound import OutboundPolicy
from bench.fuzz import loopback_only

make_app = app.make_app

def make_app_with_docs(ctx, *args, **kwargs):
    application = make_app(ctx, *args, **kwargs)
    if openapi.OpenApiHandler not in {rule.target for rule in application.wildcard_router.rules}:
        application.wildcard_router.add_rules(openapi.routes({"ctx": ctx}))
    return application

app.make_app = make_app_with_docs
init = OutboundPolicy.__init__

def confined_init(self, *args, **kwargs):
    init(self, *args, **kwargs)
    loopback_only(self)

OutboundPolicy.__init__ = confined_init
logging.getLogger("veggiecron.app").setLevel(logging.INFO)
sys.exit(start.main())
"""


FUZZ_CONFIG: dict[str, Any] = {
    # public_url: the server issues OIDC tokens, so data.oidc and the JWKS are fuzzed too.
    "app": {"env": "test", "key": "fuzzing-key-0123456789abcdef", "public_url": "https://cron.example.org"},
    "host": "127.0.0.1",
    "port": 0,
    "log_level": "WARNING",
    # schemathesis reuses names it has seen (the fuzz user's) with wrong passwords: no lockouts.
    "security": {"bcrypt_rounds": 4, "login_failures_per_user": 1000000, "login_failures_per_address": 1000000},
    "quotas": {"max_jobs_per_user": 500, "max_runs_per_minute": 1200},
}


async def start_server(workdir: Path) -> Daemon:
    """`python start.py` (through LAUNCHER) on a config, database and log in `workdir`, started."""
    # Imported here: the server process and schemathesis's hooks import this module and need none of it.
    from tests.daemon import Daemon

    daemon = Daemon(workdir, base=FUZZ_CONFIG, launcher=LAUNCHER)
    await daemon.start()
    return daemon


# The schemathesis configuration of both runs, this one and the suite's (tests/api/test_openapi.py).
ST_CONFIG = """
# Stateful sequences need resources to exist: they send valid data only (the other phases send both).
[phases.stateful.generation]
mode = "positive"

# Wrong credentials are a rejection no schema can express: the Seed API answers them with 400 and
# non_field_errors, as Django REST Framework's token view does (the native /login answers 401).
[[operations]]
include-operation-id = "seedTokenAuth"
checks.positive_data_acceptance.expected-statuses = ["200", "400", "429"]

# A calendar's dates and holidays have rules no schema says: a day its month lacks (2026-02-30), a
# range ending before it starts, more than ten years of days, a subdivision its country lacks.
[[operations]]
include-operation-id = "createCalendar"
checks.positive_data_acceptance.expected-statuses = ["201", "400", "403", "409", "429"]

[[operations]]
include-operation-id = "replaceCalendar"
checks.positive_data_acceptance.expected-statuses = ["200", "400", "403", "404", "409", "429"]
"""


def schemathesis_config() -> Any:
    """ST_CONFIG as a schemathesis configuration object (for the Python API)."""
    from schemathesis.config import SchemathesisConfig

    return SchemathesisConfig.from_str(ST_CONFIG)


def st_command(base_url: str, args: argparse.Namespace, report_dir: Path) -> list[str]:
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st") or "st"
    config = report_dir / "schemathesis.toml"
    config.write_text(ST_CONFIG)
    excluded = [arg for op in EXCLUDED_OPERATIONS for arg in ("--exclude-operation-id", op)]
    return [
        st,
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        args.checks,
        *excluded,
        "--phases",
        args.phases,
        "--max-time",
        str(args.seconds),
        "--seed",
        str(args.seed),
        "--workers",
        str(args.workers),
        "--rate-limit",
        args.rate_limit,
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",  # a run's cases come from its seed alone, so a failure replays with that seed
        "--report",
        "junit,ndjson",
        "--report-dir",
        str(report_dir),
    ]


async def main_async(args: argparse.Namespace) -> int:
    from tests.helpers import start_sink

    report_dir = Path(args.report_dir or tempfile.mkdtemp(prefix="veggiecron-fuzz-")).resolve()
    report_dir.mkdir(parents=True, exist_ok=True)
    sink, sink_runner = await start_sink()
    workdir = report_dir / "server"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir()
    server = await start_server(workdir)
    base_url = f"http://127.0.0.1:{server.port}"
    started = time.monotonic()
    try:
        await asyncio.to_thread(register, base_url)
        auth = type("ServerAuth", (TokenAuth,), {"base_url": base_url})()
        await asyncio.to_thread(make_parent, base_url, await asyncio.to_thread(auth.get, None, None))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "SCHEMATHESIS_HOOKS": "bench.fuzz_hooks",
            "VEGGIECRON_FUZZ_BASE_URL": base_url,
            "VEGGIECRON_FUZZ_SINK_URL": sink.url,
        }
        command = st_command(base_url, args, report_dir)
        print("$", " ".join(command), flush=True)
        st = await asyncio.create_subprocess_exec(*command, cwd=report_dir, env=env)
        code = await st.wait()
    finally:
        await server.close()
        await sink_runner.cleanup()
    log = server.log
    tracebacks = log.read_text().count("Traceback (most recent call last)")
    print(
        f"\nveggiecron fuzz: {time.monotonic() - started:.0f}s, seed {args.seed}, phases {args.phases}; "
        f"schemathesis exit {code}; {len(sink.hits)} requests reached the loopback sink; "
        f"{tracebacks} tracebacks in the server log ({log}); JUnit report in {report_dir}"
    )
    return code or (1 if tracebacks else 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=180, help="time budget of the schemathesis run (180)")
    parser.add_argument("--seed", type=int, help="random seed, to replay a run (default: a new one, printed)")
    parser.add_argument("--checks", default="all", help="schemathesis checks, comma-separated (all)")
    parser.add_argument(
        "--phases", default="examples,coverage,fuzzing,stateful", help="schemathesis phases (all of them)"
    )
    parser.add_argument("--workers", type=int, default=1, help="concurrent schemathesis workers (1)")
    parser.add_argument("--rate-limit", default="100/s", help="request rate limit (100/s)")
    parser.add_argument("--report-dir", help="where reports and the server log go (a new temporary directory)")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**31)
    print(f"veggiecron fuzz: seed {args.seed} (replay with --seed {args.seed})", flush=True)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
