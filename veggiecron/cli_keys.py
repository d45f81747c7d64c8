"""The key commands: `veggiecron rotate-keys` (a new OIDC signing key) and `veggiecron
rotate-secrets-key` (every stored secret re-encrypted under a new key)."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext

from .cli_support import database_named, fail, run
from .config import Config

MIN_KEY = 16  # as app.key


def key_given(option: str | None) -> str:
    """A key from its option; "-" reads it as a line of stdin (kept out of the process list)."""
    return sys.stdin.readline().rstrip("\r\n") if option == "-" else (option or "")


def rotate_keys(config: Config) -> int:
    """A new OIDC signing key for every server on this database; running servers take it within a second."""
    from .oidc_rotation import rotate_oidc_key
    from .sealed import WrongSecretsKey

    where, missing = database_named(config)
    if missing:
        return fail(f"no database at {where}", 2)
    try:
        kid = run(rotate_oidc_key(config))
    except WrongSecretsKey as exc:
        return fail(str(exc), 2)
    except Exception as exc:  # a database that refuses us: one line, whatever raised it
        return fail(f"cannot rotate the OIDC keys of {where}: {type(exc).__name__}: {exc}", 1)
    hours = config.security.jwks_overlap_hours
    print(
        f"veggiecron: new OIDC signing key {kid} in {where}; the previous ones stay in the JWKS for {hours:g} hours",
        file=sys.stderr,
    )
    return 0


def rotate_secrets_key(config: Config, old_option: str | None, new_option: str | None) -> int:
    """Re-encrypt every stored secret under a new key, all or nothing; one line of outcome."""
    from .daemon_lock import ServerRunning, importing
    from .sealed import WrongSecretsKey
    from .secrets_rotation import rotate_secrets_key as rotate

    old = key_given(old_option) or config.security.secrets_key or config.app.key
    new = key_given(new_option)
    if len(new) < MIN_KEY:
        return fail(f"give the new key with --new-key (- reads it from stdin), at least {MIN_KEY} characters", 2)
    if new == old:
        return fail("the new key is the old one: nothing to do", 2)
    where, missing = database_named(config)
    if missing:
        return fail(f"no database at {where}", 2)
    # A server running on the SQLite file would go on with the old key: it must be stopped.
    held: AbstractContextManager[None] = nullcontext() if config.database else importing(config.db_file)
    try:
        with held:
            count = run(rotate(config, old, new))
    except ServerRunning as exc:
        return fail(str(exc), 1)
    except WrongSecretsKey:
        return fail(f"the old key cannot decrypt the secrets stored in {where}; nothing was changed", 2)
    except Exception as exc:  # a database that refuses us: one line, whatever raised it
        return fail(f"cannot rotate the secrets key of {where}, nothing was changed: {type(exc).__name__}: {exc}", 1)
    print(
        f"veggiecron: re-encrypted {count} stored secrets in {where}; start the servers with "
        "security.secrets_key (VEGGIECRON_SECURITY__SECRETS_KEY) set to the new key",
        file=sys.stderr,
    )
    return 0
