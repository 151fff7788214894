"""The local Redis (redis://127.0.0.1:6379) as a django-q2 broker for tests, kept apart from every other run.

Each test gets its own queue name (a fresh UUID: django-q2's Redis keys start with it) in a Redis database chosen by
the test database's name, so parallel checkouts and parallel tests never share a queue. A missing Redis skips the
test here and fails it in CI (KISSWEB_REQUIRE_TOOLS=1, see tests/conftest.py).
"""

from __future__ import annotations

import os
import uuid
import zlib
from dataclasses import dataclass

import pytest

REDIS_HOST_URL = os.environ.get("KISSWEB_TEST_REDIS", "redis://127.0.0.1:6379")


@dataclass
class RedisQueue:
    url: str  # redis://host:port/db
    name: str  # the django-q2 cluster (queue) name

    @property
    def list_key(self) -> str:
        return f"django_q:{self.name}:q"

    def connection(self):
        import redis

        return redis.from_url(self.url)


def redis_db() -> int:
    """1..15, by the test database's name (db 0 is left to whoever else uses this Redis)."""
    return 1 + zlib.crc32(os.environ.get("KISSWEB_TEST_DB", "test_kissweb").encode()) % 15


@pytest.fixture
def redis_queue():
    import redis

    queue = RedisQueue(url=f"{REDIS_HOST_URL}/{redis_db()}", name=f"kissweb-test-{uuid.uuid4().hex[:12]}")
    try:
        queue.connection().ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_HOST_URL}: {exc}")
    yield queue
    connection = queue.connection()
    for key in connection.scan_iter(f"django_q:{queue.name}:*"):
        connection.delete(key)


@pytest.fixture
def redis_broker(redis_queue, monkeypatch):
    """django-q2 in this process uses the Redis queue (as with REDIS_URL set), through kissweb's broker class."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "REDIS", redis_queue.url)
    monkeypatch.setattr(Conf, "DJANGO_REDIS", None)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "BROKER_CLASS", "kissweb.jobs.brokers.RedisBroker")
    monkeypatch.setattr(Conf, "CLUSTER_NAME", redis_queue.name)
    monkeypatch.setattr(Conf, "PREFIX", redis_queue.name)
    return redis_queue
