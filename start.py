"""Start the veggiecron server: python start.py [--config PATH] [--host H] [--port P] [--db-file F]."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from veggiecron.app import configure_logging, create_admin, serve
from veggiecron.config import ConfigError, load_config
from veggiecron.errors import VeggiecronError
from veggiecron.store import SchemaTooNew

T = TypeVar("T")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Veggiecron: schedule HTTP jobs over a REST API.",
        epilog="python start.py create-admin NAME creates (or promotes) an admin user and prints a new token.",
    )
    parser.add_argument("command", nargs="?", choices=["serve", "create-admin"], default="serve")
    parser.add_argument("name", nargs="?", help="with create-admin: the admin's username")
    parser.add_argument("--config", default="config.yaml", help="YAML config file (default: ./config.yaml)")
    parser.add_argument("--host", help="address to listen on (overrides the config file)")
    parser.add_argument("--port", type=int, help="port to listen on (overrides the config file)")
    parser.add_argument("--db-file", dest="db_file", help="SQLite database file (overrides the config file)")
    return parser.parse_args(argv)


def run(main_coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, on uvloop where it is installed (it roughly halves the cost of each request)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main_coroutine)
    return uvloop.run(main_coroutine)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = load_config(args.config, {"host": args.host, "port": args.port, "db_file": args.db_file})
    except ConfigError as exc:
        print(f"veggiecron: config error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config)
    if args.command == "create-admin":
        if not args.name:
            print("veggiecron: create-admin needs a NAME", file=sys.stderr)
            return 2
        try:
            token = run(create_admin(config, args.name))
        except (ConfigError, VeggiecronError) as exc:
            print(f"veggiecron: {getattr(exc, 'description', exc)}", file=sys.stderr)
            return 2
        print(token)
        return 0
    try:
        run(serve(config))
    except SchemaTooNew as exc:
        print(f"veggiecron: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"veggiecron: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
