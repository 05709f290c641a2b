"""The xdist workers' own real backends: worker N > 0 never shares worker 0's Redis database."""

from __future__ import annotations

from xdist_backends import database_url_for, redis_url_for


def test_each_worker_gets_its_own_redis_database() -> None:
    assert redis_url_for("redis://127.0.0.1:6379/15", 1) == "redis://127.0.0.1:6379/14"
    assert redis_url_for("redis://:pw@127.0.0.1:6379/7?x=1", 2) == "redis://:pw@127.0.0.1:6379/5?x=1"
    assert redis_url_for("redis://127.0.0.1:6379/0", 1) == "redis://127.0.0.1:6379/1"
    assert redis_url_for("redis://127.0.0.1:6379", 1) == "redis://127.0.0.1:6379/1"


def test_sqlite_urls_are_left_alone() -> None:
    url = "sqlite+aiosqlite:////tmp/x/account.db"
    assert database_url_for(url, 1) == url
