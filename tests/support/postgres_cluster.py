"""A throwaway PostgreSQL cluster for the `team` deployment's tests: the Debian server binaries,
`initdb` as an unprivileged user, password authentication, a free loopback port, removed afterwards.

When the binaries are missing the tests skip, except under REDSTAR_REQUIRE_SERVICES=1 (CI), where
they fail: `make postgres` installs them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from redstar_training.generation.serve import free_port
from support.required import missing_service


@dataclass(frozen=True)
class Cluster:
    host: str
    port: int
    user: str
    password: str
    db: str

    def env(self) -> dict[str, str]:
        """The variables configs/deployments/team/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.db,
        }


def bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def require_bin_dir() -> Path:
    where = bin_dir()
    if where is None:
        missing_service("PostgreSQL server binaries (initdb, pg_ctl) are missing: run `make postgres`")
    return where


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` system user then."""
    return ["runuser", "-u", owner, "--", *command] if owner else command


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    binaries = require_bin_dir()
    owner = None
    if os.geteuid() == 0:
        owner = "postgres"
        pwd.getpwnam(owner)  # KeyError: the Debian package creates this user
    root = Path(tempfile.mkdtemp(prefix="redstar-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    password = secrets.token_hex(12)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    if owner:
        shutil.chown(root, owner)
        shutil.chown(sockets, owner)
        shutil.chown(pwfile, owner)
    port = free_port()
    try:
        subprocess.run(
            _as_owner(
                [str(binaries / "initdb"), "-D", str(data), "-U", "redstar", f"--pwfile={pwfile}",
                 "-A", "scram-sha-256", "--no-sync", "-E", "UTF8"],
                owner,
            ),
            check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off"
        subprocess.run(
            _as_owner(
                [str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"],
                owner,
            ),
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        env = {**os.environ, "PGPASSWORD": password}
        subprocess.run(
            [str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "redstar", "redstar"],
            check=True, capture_output=True, text=True, timeout=30, env=env,
        )  # fmt: skip
        yield Cluster("127.0.0.1", port, "redstar", password, "redstar")
    finally:
        if data.exists():
            subprocess.run(
                _as_owner([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], owner),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)
