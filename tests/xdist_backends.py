"""Own real backends for each pytest-xdist worker.

A plugin of the root conftest. The tests wipe the Redis database and the tables they use, so two
workers on one ``REDIS_URL`` / ``DATABASE_URL`` would wipe each other's data mid-test. Worker
``gwN`` (N > 0) therefore gets Redis database ``base - N`` (``base + N`` when the base is below
N) and the PostgreSQL database ``<name>_gwN``, created on first use; worker ``gw0`` and a run
without xdist keep the URLs as given. The environment is rewritten, so the CLI subprocesses the
tests start see the worker's backends too. The embedded backends (fakeredis, SQLite files under
each test's own temporary folder) need nothing.
"""

from __future__ import annotations

import asyncio
import os
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine


def worker_index() -> int:
    """0 without xdist or on its first worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw"))


def redis_url_for(url: str, index: int) -> str:
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    db = base - index if base >= index else base + index
    return urlunsplit(parts._replace(path=f"/{db}"))


async def _create_database(url: str, name: str) -> None:
    engine = create_async_engine(make_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


def database_url_for(url: str, index: int) -> str:
    """The worker's own PostgreSQL database, created if missing; SQLite URLs are left alone."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return url
    name = f"{parsed.database}_gw{index}"
    asyncio.run(_create_database(url, name))
    return parsed.set(database=name).render_as_string(hide_password=False)


def pytest_configure(config: pytest.Config) -> None:
    index = worker_index()
    if index == 0:
        return
    if redis := os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = redis_url_for(redis, index)
    if database := os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = database_url_for(database, index)
