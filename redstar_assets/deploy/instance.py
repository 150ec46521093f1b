"""The Dagster instance the CLI works in (DAGSTER_HOME), checked before use: a `team` instance whose
PostgreSQL cannot be reached, or whose settings are missing, gives one line naming the file, the
setting and the address instead of a retry loop and a SQLAlchemy traceback."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


class InstanceError(RuntimeError):
    """The instance under DAGSTER_HOME cannot be opened; the message names the setting."""


def _value(setting: Any, where: str) -> tuple[str, str]:
    """A dagster.yaml value and where it came from (`{env: NAME}` or the file)."""
    if isinstance(setting, dict) and "env" in setting:
        name = setting["env"]
        if name not in os.environ:
            raise InstanceError(f"{where} comes from the environment variable {name}, which is not set")
        return os.environ[name], f"from {name}"
    return str(setting), "in the file"


def postgres_settings(config: dict) -> dict | None:
    """The resolved `postgres_db` block of the instance's storage, or None for a SQLite instance."""
    storage = (config.get("storage") or {}).get("postgres")
    if not storage:
        return None
    db = storage.get("postgres_db")
    if db is None:
        return {"url": _value(storage["postgres_url"], "storage.postgres.postgres_url")[0]}
    resolved: dict[str, str | int] = {}
    for key in ("username", "password", "hostname", "db_name", "port"):
        if key in db:
            resolved[key], resolved[f"{key}_source"] = _value(db[key], f"storage.postgres.postgres_db.{key}")
    resolved.setdefault("port", "5432")
    resolved["connect_timeout"] = int((db.get("params") or {}).get("connect_timeout", 10))
    return resolved


def check_postgres(settings: dict, config_path: Path) -> None:
    """Connects once with the instance's own settings; fails with the address and where it came from."""
    import psycopg2

    try:
        if "url" in settings:
            psycopg2.connect(settings["url"], connect_timeout=10).close()
            return
        psycopg2.connect(
            host=settings["hostname"],
            port=int(settings["port"]),
            user=settings["username"],
            password=settings["password"],
            dbname=settings["db_name"],
            connect_timeout=settings["connect_timeout"],
        ).close()
    except psycopg2.OperationalError as exc:
        if "url" in settings:
            reason = " ".join(str(exc).split())
            raise InstanceError(f"{config_path}: storage.postgres.postgres_url cannot be reached: {reason}") from None
        where = f"{settings['hostname']}:{settings['port']}"
        sources = f"hostname {settings.get('hostname_source')}, port {settings.get('port_source', 'default')}"
        reason = " ".join(str(exc).split())
        raise InstanceError(
            f"{config_path}: storage.postgres cannot reach PostgreSQL at {where} ({sources}), "
            f"database {settings['db_name']!r} as {settings['username']!r}: {reason}"
        ) from None


def open_instance():
    """`DagsterInstance.get()`, after checking that a PostgreSQL storage is reachable."""
    from dagster import DagsterInstance

    config_path = Path(os.environ["DAGSTER_HOME"]) / "dagster.yaml"
    config = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
    settings = postgres_settings(config or {})
    if settings is not None:
        check_postgres(settings, config_path)
    return DagsterInstance.get()
