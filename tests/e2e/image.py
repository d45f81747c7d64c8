"""The container image for tests: a local base, a build with podman, and a way to start what it holds.

There may be no registry of base images on the machine, so the base is made locally: Debian from
mmdebstrap (python3, its venv module and CA certificates: what the Containerfile asks of BASE),
imported into podman. The tarball is kept under /var/tmp, keyed by what it holds, so only a fresh
machine spends the ~20 s of making it; a lock keeps concurrent runs from making it twice.

Where `podman run` works, the image starts with it. Where it does not (crun refusing a machine's
cgroups or rlimits), the image's own ENTRYPOINT and CMD run with `chroot --userspec=USER` in a
container's writable mount, with the image's ENV, WorkingDir and User and nothing else, as PID 1
of a PID namespace of its own (unshare), as in a container.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "Containerfile"
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_CACHE = Path("/var/tmp/veggiecron-image-base")
BUILD_TIMEOUT = 300


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def require_podman() -> None:
    """Skip (outside CI) or fail (in CI) when the tools are missing, saying which."""
    missing = [tool for tool in ("podman", "mmdebstrap") if shutil.which(tool) is None]
    if not missing:
        return
    message = f"the image test needs {' and '.join(missing)}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; .ci/run installs them in CI")
    pytest.skip(f"{message} (apt-get install podman mmdebstrap); .ci/run installs them in CI")


def local_base() -> str:
    """A podman image of Debian with what BASE must hold, made once per machine and reused."""
    command = ["mmdebstrap", "--quiet", "--variant=apt", f"--include={','.join(BASE_PACKAGES)}", BASE_SUITE]
    key = hashlib.sha256(" ".join(command).encode()).hexdigest()[:16]
    name = f"localhost/veggiecron-test-base:{key}"
    BASE_CACHE.mkdir(parents=True, exist_ok=True)
    with (BASE_CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if podman("image", "exists", name, check=False).returncode == 0:
            return name
        tarball = BASE_CACHE / f"{key}.tar"
        if not tarball.exists():
            partial = BASE_CACHE / f"{key}.partial.tar"  # mmdebstrap picks the format by the ending
            # stdin closed: mmdebstrap then uses Debian's default mirror rather than reading sources.
            made = subprocess.run(
                [*command, str(partial)], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300
            )
            assert made.returncode == 0, f"mmdebstrap failed: {made.stderr[-2000:]}"
            partial.rename(tarball)
        podman("import", "--quiet", str(tarball), name, timeout=300)
    return name


def certificate_bundle() -> str | None:
    """The bundle this machine's pip verifies the package index with, given to the build as a
    secret: where the index is reached through a TLS-inspecting proxy, a base image's own
    certificates do not verify it."""
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        "/etc/ssl/certs/ca-certificates.crt",
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def index_url() -> str | None:
    """The index this machine's pip uses instead of PyPI (PIP_INDEX_URL or pip's config), for the
    build's pip too; only an http(s) one, as a file:// index on this disk is not in the build."""
    url = os.environ.get("PIP_INDEX_URL")
    if not url:
        asked = [sys.executable, "-m", "pip", "config", "get", "global.index-url"]
        done = subprocess.run(asked, capture_output=True, text=True, timeout=60)
        url = done.stdout.strip() if done.returncode == 0 else ""
    return url if url.startswith(("http://", "https://")) else None


def build(base: str, tag: str) -> None:
    """`podman build` of this tree's Containerfile, in the docker format (OCI drops HEALTHCHECK)."""
    command = [
        "build",
        "--isolation", "chroot",  # no runtime needed for RUN steps: works where crun cannot start containers
        "--network", "host",
        "--format", "docker",
        "--layers=false",  # no intermediate images left behind by each run
        "--build-arg", f"BASE={base}",
        "--tag", tag,
        "--file", str(CONTAINERFILE),
    ]  # fmt: skip
    bundle = certificate_bundle()
    if bundle:
        command += ["--secret", f"id=ca,src={bundle}"]
    mirror = index_url()
    if mirror:
        command += ["--build-arg", f"PIP_INDEX_URL={mirror}"]
    podman(*command, str(ROOT), timeout=BUILD_TIMEOUT)


def podman_run_works(tag: str) -> bool:
    done = podman("run", "--rm", "--network", "host", "--entrypoint", "python3", tag, "-c", "pass", check=False)
    return done.returncode == 0


@dataclass
class Image:
    """A built image, one container of it and that container's writable root on the host."""

    tag: str
    container: str
    root: Path
    info: dict[str, Any]
    use_podman_run: bool

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.info["Config"])

    @property
    def env(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.config.get("Env", []))

    def uid(self, user: str) -> int:
        for line in (self.root / "etc" / "passwd").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == user or fields[2] == user:
                return int(fields[2])
        raise AssertionError(f"user {user!r} is not in the image's /etc/passwd")

    def command(self, extra_env: dict[str, str], name: str) -> tuple[list[str], dict[str, str]]:
        """The image's own entry command with `extra_env` over its ENV: argv and environment."""
        if self.use_podman_run:
            options = [item for key, value in extra_env.items() for item in ("--env", f"{key}={value}")]
            return ["podman", "run", "--rm", "--name", name, "--network", "host", *options, self.tag], dict(os.environ)
        entry = [*self.config.get("Entrypoint", []), *self.config.get("Cmd", [])]
        # In a PID namespace of its own, as in a container: the entry command is its PID 1 (unshare
        # forks it, chroot and env exec), which the kernel sends only the signals it handles.
        pid_one = ["unshare", "--pid", "--fork", "--kill-child"]
        return [*pid_one, *self.in_root(entry)], {**self.env, **extra_env}

    def entry_pid(self, started: int) -> tuple[int, int]:
        """The started entry command's pid here and its pid in its own namespace; podman run's
        process forwards signals to it, so that one stands for it."""
        if self.use_podman_run:
            return started, 1
        children = Path(f"/proc/{started}/task/{started}/children").read_text().split()
        assert len(children) == 1, children
        namespaced = next(
            line.split()[1:]
            for line in Path(f"/proc/{children[0]}/status").read_text().splitlines()
            if line.startswith("NSpid:")
        )
        return int(children[0]), int(namespaced[-1])

    def exec_in(self, name: str, argv: Sequence[str]) -> list[str]:
        """argv run beside the started entry command, as `docker exec NAME ARGV` does."""
        return ["podman", "exec", name, *argv] if self.use_podman_run else self.in_root(argv)

    def in_root(self, argv: Sequence[str]) -> list[str]:
        """argv run inside the container's root as the image's user, from its WorkingDir (by
        exec, no shell: env --chdir replaces itself with the command)."""
        chroot = shutil.which("chroot") or "/usr/sbin/chroot"
        workdir = self.config.get("WorkingDir") or "/"
        return [chroot, f"--userspec={self.config['User']}", str(self.root), "env", f"--chdir={workdir}", *argv]


@contextmanager
def built_image() -> Iterator[Image]:
    """Build the image, create a container of it and mount it; remove all three afterwards."""
    require_podman()
    unique = uuid.uuid4().hex[:10]
    tag, container = f"localhost/veggiecron-test:{unique}", f"veggiecron-test-{unique}"
    base = local_base()
    try:
        build(base, tag)
        info = json.loads(podman("image", "inspect", tag).stdout)[0]
        use_podman_run = podman_run_works(tag)
        if not use_podman_run and os.geteuid() != 0:
            message = "podman run does not work here and starting the image by chroot needs root"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        podman("create", "--name", container, tag)
        root = Path(podman("mount", container).stdout.strip())
        yield Image(tag, container, root, info, use_podman_run)
    finally:
        podman("umount", container, check=False)
        podman("rm", "--force", container, check=False)
        podman("rmi", "--force", tag, check=False)
