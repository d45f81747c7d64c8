"""The `veggiecron` command: serve, create-admin, check-config, backup, copy-to-postgres, export and import,
all on one configuration."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sqlite3
import sys
from contextlib import AbstractContextManager, closing, nullcontext
from pathlib import Path

from . import __version__
from .cli_keys import rotate_keys, rotate_secrets_key
from .cli_support import database_named, fail, run
from .config import Config, ConfigError
from .config_layers import Settings, describe, load_settings
from .errors import Invalid, VeggiecronError
from .logs import StartupError, configure_logging, start_error_reporting

COMMANDS = (
    "serve",
    "create-admin",
    "check-config",
    "backup",
    "copy-to-postgres",
    "export",
    "import",
    "rotate-secrets-key",
    "rotate-keys",
)
logger = logging.getLogger("veggiecron")


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("configuration (over the config file and the environment)")
    where.add_argument(
        "--config", help="YAML config file (default: $VEGGIECRON_CONFIG, else ./config.yaml when present)"
    )
    where.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    where.add_argument("--port", type=int, help="port to listen on (default 8118; 0: any free port)")
    where.add_argument("--database", help="database URL: sqlite:///PATH or a file path (default veggiecron.db)")
    where.add_argument("--db-file", dest="db_file", help="SQLite database file (the same as --database PATH)")
    main = argparse.ArgumentParser(
        prog="veggiecron",
        description="Veggiecron: schedule HTTP jobs over a REST API.",
        epilog="Every setting can also come from the config file or a VEGGIECRON_* environment variable.",
    )
    main.add_argument("--version", action="version", version=f"veggiecron {__version__}")
    commands = main.add_subparsers(dest="command", metavar="COMMAND")
    serve_command = commands.add_parser("serve", parents=[common], help="run the server (the default command)")
    serve_command.add_argument(
        "--role",
        choices=("all", "api", "scheduler"),
        help="this node's part on PostgreSQL: all (default), api (claims nothing) or scheduler (sends runs)",
    )
    admin = commands.add_parser(
        "create-admin", parents=[common], help="create (or promote) an admin user and print a new token for it"
    )
    admin.add_argument("name", help="the admin's username")
    commands.add_parser(
        "check-config", parents=[common], help="print the effective configuration, secrets masked, and its sources"
    )
    backup = commands.add_parser(
        "backup", parents=[common], help="copy the SQLite database to a file, safely while the server runs"
    )
    backup.add_argument("destination", help="the copy's path (must not exist yet)")
    copy = commands.add_parser(
        "copy-to-postgres",
        parents=[common],
        help="copy the SQLite database (users, tokens, jobs, runs, Seed records) into an empty PostgreSQL one",
    )
    copy.add_argument("target", help="postgresql://user:password@host/dbname (an empty database)")
    export = commands.add_parser(
        "export", parents=[common], help="write all of a user's jobs as one JSON document, safely while the server runs"
    )
    export.add_argument("username", help="whose jobs")
    export.add_argument("--output", "-o", help="a new file to write, readable only by you (default: stdout)")
    export.add_argument(
        "--include-secrets",
        action="store_true",
        help='write secret values in plain text (default: {"secret": null}, which import leaves out)',
    )
    load = commands.add_parser(
        "import", parents=[common], help="create a user's jobs from a file export wrote, all in one transaction"
    )
    load.add_argument("username", help="whose jobs they become")
    load.add_argument("file", help="the file export wrote (- for stdin)")
    load.add_argument("--replace", action="store_true", help="change a job whose name exists, as PATCH would")
    load.add_argument(
        "--create-user", action="store_true", help="create the user when missing, without a password (as create-admin)"
    )
    rotate = commands.add_parser(
        "rotate-secrets-key",
        parents=[common],
        help="re-encrypt every stored secret under a new key, in one transaction (stop the servers first)",
    )
    rotate.add_argument(
        "--old-key",
        help="the key they are stored under (default: the configured security.secrets_key, else app.key); "
        "- reads it from stdin (before the new key when both are)",
    )
    rotate.add_argument("--new-key", required=True, help="the key to store them under; - reads it from stdin")
    commands.add_parser(
        "rotate-keys",
        parents=[common],
        help="add a new OIDC signing key; the old one stays in the JWKS for security.jwks_overlap_hours",
    )
    return main


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help", "--version")):
        args.insert(0, "serve")  # `veggiecron --port 9000` and `python start.py` serve, as they always did
    options = parser().parse_args(args)
    try:
        settings = load_settings(
            options.config,
            {
                "host": options.host,
                "port": options.port,
                "database": options.database,
                "db_file": options.db_file,
                "cluster.role": getattr(options, "role", None),
            },
        )
    except ConfigError as exc:
        return fail(f"config error: {exc}", 2)
    config = settings.config
    if options.command == "check-config":
        print("\n".join(describe(settings)))
        return 0
    configure_logging(config)
    if options.command == "create-admin":
        return create_admin(config, options.name)
    if options.command == "backup":
        return backup(config, Path(options.destination))
    if options.command == "copy-to-postgres":
        return copy_to_postgres(config, options.target)
    if options.command == "export":
        return export_jobs(config, options.username, options.output, options.include_secrets)
    if options.command == "import":
        return import_jobs(config, options.username, options.file, options.replace, options.create_user)
    if options.command == "rotate-secrets-key":
        return rotate_secrets_key(config, options.old_key, options.new_key)
    if options.command == "rotate-keys":
        return rotate_keys(config)
    return serve(settings)


def serve(settings: Settings) -> int:
    from .app import serve as serve_forever  # the server's modules load only for the commands that run it
    from .sealed import WrongSecretsKey
    from .store import DatabaseRefused

    config = settings.config
    try:
        start_error_reporting(config)
    except StartupError as exc:
        return fail(str(exc), 2)
    warn_if_exposed(config)
    try:
        run(serve_forever(config))
    except (DatabaseRefused, WrongSecretsKey) as exc:  # damaged, another program's, a newer one's; another key
        return fail(str(exc), 2)
    except (OSError, sqlite3.Error) as exc:
        return fail(f"cannot start: {exc}", 1)
    except VeggiecronError as exc:
        return fail(f"cannot start: {exc.description}", 1)
    except Exception as exc:  # a start-up failure is one line, whatever raised it
        logger.debug("start-up failed", exc_info=True)
        return fail(f"cannot start: {type(exc).__name__}: {exc}", 1)
    return 0


def warn_if_exposed(config: Config) -> None:
    """Registration open to anyone who reaches a port beyond this machine deserves a word."""
    try:
        loopback = ipaddress.ip_address(config.host).is_loopback
    except ValueError:
        loopback = config.host == "localhost"
    if not loopback and config.security.registration == "open":
        logger.warning(
            "listening on %s with security.registration open: anyone who reaches the port can register; "
            "set security.registration to admin or closed",
            config.host,
        )


def create_admin(config: Config, name: str) -> int:
    from .app import create_admin as make_admin

    where, new = database_named(config)
    note = " (a new file: no server has used it yet)" if new else ""
    try:
        token = run(make_admin(config, name))
    except VeggiecronError as exc:
        return fail(exc.description, 2)
    except (OSError, sqlite3.Error) as exc:
        return fail(f"cannot open the database {where}: {exc}", 1)
    except Exception as exc:  # a database that refuses us (PostgreSQL): one line, whatever raised it
        return fail(f"cannot open the database {where}: {type(exc).__name__}: {exc}", 1)
    print(f"veggiecron: admin {name!r} in the database {where}{note}; its new token:", file=sys.stderr)
    print(token)
    return 0


def backup(config: Config, destination: Path) -> int:
    """SQLite's online backup: a consistent copy while the server goes on writing (WAL included)."""
    if config.database:
        return fail("backup copies a SQLite database; back up PostgreSQL with pg_dump", 2)
    source = Path(config.db_file).resolve()
    if not source.exists():
        return fail(f"no database at {source}", 1)
    if destination.exists():
        return fail(f"{destination} exists; give a new file", 1)
    try:
        with closing(sqlite3.connect(source)) as reader, closing(sqlite3.connect(destination)) as copy:
            reader.execute("PRAGMA busy_timeout = 5000")  # the server's writes hold the lock for moments
            reader.backup(copy)
    except sqlite3.Error as exc:
        destination.unlink(missing_ok=True)
        return fail(f"backup of {source} failed: {exc}", 1)
    print(f"veggiecron: copied {source} to {destination.resolve()}", file=sys.stderr)
    return 0


def copy_to_postgres(config: Config, target: str) -> int:
    """Move a single daemon's SQLite database into PostgreSQL, for several nodes (stop the server first)."""
    from .config import is_postgres_url
    from .store.copy_to_postgres import TargetNotEmpty, copy_sqlite_to_postgres
    from .store.postgres.connection import redact

    if config.database:
        return fail("copy-to-postgres reads a SQLite database; this configuration names PostgreSQL", 2)
    if not is_postgres_url(target):
        return fail(f"the target must be a postgresql:// URL, not {target!r}", 2)
    source = Path(config.db_file).resolve()
    if not source.exists():
        return fail(f"no database at {source}", 1)
    try:
        report = run(copy_sqlite_to_postgres(str(source), target))
    except TargetNotEmpty as exc:
        return fail(str(exc), 1)
    except Exception as exc:  # the target refused us: one line, whatever raised it
        return fail(f"copy to {redact(target)} failed, nothing was written: {type(exc).__name__}: {exc}", 1)
    counts = ", ".join(f"{rows} {table}" for table, rows in report.copied.items())
    print(f"veggiecron: copied {source} to {redact(target)}: {counts}", file=sys.stderr)
    if report.runs_merged:
        print(
            f"veggiecron: {report.runs_merged} run records of a slot already copied were left out "
            "(PostgreSQL keeps one record per slot)",
            file=sys.stderr,
        )
    return 0


def export_jobs(config: Config, username: str, output: str | None, include_secrets: bool = False) -> int:
    """All of a user's jobs as one JSON document, on stdout or in a new file."""
    from .export_import import UnknownUser, export_user

    where, new = database_named(config)
    if new:
        return fail(f"no database at {where}", 1)
    if output is not None and os.path.lexists(output):
        return fail(f"{output} exists; give a new file", 1)
    try:
        document, count = run(export_user(config, username, include_secrets=include_secrets))
    except UnknownUser:
        return fail(f"no user named {username!r} in the database {where}", 2)
    except VeggiecronError as exc:
        return fail(f"cannot read the database {where}: {exc.description}", 1)
    except (OSError, sqlite3.Error) as exc:
        return fail(f"cannot read the database {where}: {exc}", 1)
    except Exception as exc:  # a database that refuses us (PostgreSQL): one line, whatever raised it
        return fail(f"cannot read the database {where}: {type(exc).__name__}: {exc}", 1)
    target = "stdout"
    if output is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    else:
        target = str(Path(output).resolve())
        try:
            # Jobs' headers and Seed schedules' auth tokens are in it: only its owner may read it.
            with os.fdopen(os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
                file.write(document)
        except OSError as exc:
            if not isinstance(exc, FileExistsError):
                Path(output).unlink(missing_ok=True)
            return fail(f"cannot write {output}: {exc.strerror or exc}", 1)
    print(f"veggiecron: exported {count} jobs of {username!r} from the database {where} to {target}", file=sys.stderr)
    if include_secrets:
        print(
            f"veggiecron: warning: {target} holds the jobs' secrets in plain text; keep it as you keep them",
            file=sys.stderr,
        )
    return 0


def import_jobs(config: Config, username: str, source: str, replace: bool, create_user: bool) -> int:
    """Create a user's jobs from an exported file, all or none; one line saying why when none."""
    from .daemon_lock import ServerRunning, importing
    from .errors import Conflict
    from .export_import import UnknownUser, WriteFailed, import_user
    from .jobs_file import Refused

    label = "stdin" if source == "-" else source
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        return fail(f"cannot read {label}: {exc.strerror or exc}", 2)
    where, new = database_named(config)
    if new and not create_user:
        return fail(f"no database at {where} (--create-user creates the user in a new one)", 2)
    held: AbstractContextManager[None] = nullcontext() if config.database else importing(config.db_file)
    removed = False
    try:
        with held:
            try:
                report = run(import_user(config, username, raw, replace_existing=replace, create_user=create_user))
            except Exception:
                # Still under the lock: a server starting meanwhile waits, then finds no file.
                removed = _remove_new_database(config, new)
                raise
    except ServerRunning as exc:
        return fail(str(exc), 1)
    except Refused as exc:
        return fail(f"{label}: {exc}; nothing was imported", 2)
    except UnknownUser:
        return fail(f"no user named {username!r} in the database {where} (--create-user creates it)", 2)
    except WriteFailed as exc:
        made = f"; the user {username!r} was created" if exc.user_created and not removed else ""
        cause = (
            exc.cause.description if isinstance(exc.cause, VeggiecronError) else f"{type(exc.cause).__name__}: {exc}"
        )
        code = 2 if isinstance(exc.cause, Conflict) else 1
        return fail(f"import into {where} failed, no job was written{made}: {cause}", code)
    except Invalid as exc:
        return fail(exc.description, 2)
    except Exception as exc:  # a database that refuses us: one line, whatever raised it
        detail = exc.description if isinstance(exc, VeggiecronError) else f"{type(exc).__name__}: {exc}"
        return fail(f"cannot import into the database {where}, nothing was imported: {detail}", 1)
    made = f"; created the user {username!r}, without a password" if report.user_created else ""
    print(
        f"veggiecron: imported {report.created + report.replaced} jobs for {username!r} into the database {where} "
        f"({report.created} created, {report.replaced} replaced){made}",
        file=sys.stderr,
    )
    for note in report.notes:
        print(f"veggiecron: {note}", file=sys.stderr)
    return 0


def _remove_new_database(config: Config, new: bool) -> bool:
    """Remove the SQLite file a failed import created (it holds nothing); answer whether it did."""
    if not new:
        return False
    for suffix in ("", "-wal", "-shm"):
        Path(config.db_file + suffix).unlink(missing_ok=True)
    return True
