"""Fixtures of the integration tier: one service at a time on real PostgreSQL and RabbitMQ.

Every test gets fresh, migrated databases (``infra.databases``, dropped afterwards) and
nameko's ``rabbit_config`` (a fresh vhost). ``start_service`` builds a container with a
config that combines both.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from casekit.db import green_psycopg
from casekit.relay import Relay
from casekit.testing import infra
from tests.integration.helpers import Probe


@pytest.fixture(scope="session", autouse=True)
def _green_psycopg() -> None:
    """Tests run monkey patched; make psycopg2 cooperate like it does in a container."""
    green_psycopg()


@pytest.fixture
def make_databases() -> Iterator[Callable[..., dict[str, str]]]:
    """``make_databases("cases", "routing")`` → ``{service: url}`` of fresh migrated databases."""
    with ExitStack() as stack:

        def make(*services: str, migrated: bool = True) -> dict[str, str]:
            prefix = f"cwit_{uuid.uuid4().hex[:10]}"
            return stack.enter_context(infra.databases(prefix, services, migrated=migrated))

        yield make


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def service_config(rabbit_config: dict[str, Any], data_dir: Path) -> Callable[..., dict[str, Any]]:
    """A container config: the test's vhost, tmp data directories, and any overrides."""

    def make(**overrides: Any) -> dict[str, Any]:
        return {
            **rabbit_config,
            "serializer": "json",
            "max_workers": 4,
            "SEARCH_DATA_DIR": str(data_dir / "search"),
            "DOCUMENTS_DATA_DIR": str(data_dir / "documents"),
            **overrides,
        }

    return make


@pytest.fixture
def start_service(
    container_factory: Callable[..., Any],
    service_config: Callable[..., dict[str, Any]],
    make_databases: Callable[..., dict[str, str]],
) -> Callable[..., Any]:
    """``start_service(Cls, db="cases", **config)`` → a started container.

    Teardown order (nameko's ``fast_teardown``): the databases are dropped (WITH FORCE), then
    the vhost is deleted, which cancels the consumers, then ``container_factory`` kills the
    container without waiting for a consumer poll to time out.
    """

    def start(service_cls: type, db: str | None = None, **overrides: Any) -> Any:
        if db is not None:
            overrides.setdefault("DB_URL", make_databases(db)[db])
        container = container_factory(service_cls, service_config(**overrides))
        container.start()
        return container

    return start


@pytest.fixture
def own_vhost() -> Iterator[tuple[str, str]]:
    """A vhost created for the test (not nameko's): ``(name, amqp_uri)``."""
    with infra.vhost("cwit") as uri:
        yield uri.rsplit("/", 1)[1], uri


# --- the outbox relay on a cases database ----------------------------------------------------


@pytest.fixture
def outbox_db(make_databases: Callable[..., dict[str, str]]) -> str:
    return make_databases("cases")["cases"]


@pytest.fixture
def make_relay(outbox_db: str, own_vhost: tuple[str, str]) -> Iterator[Callable[..., Relay]]:
    """Relays of the cases outbox into ``own_vhost``; closed at teardown."""
    relays: list[Relay] = []

    def make(batch: int = 200, poll: float = 1.0, heartbeat: int = 30) -> Relay:
        relay = Relay("cases", outbox_db, own_vhost[1], batch=batch, poll=poll, heartbeat=heartbeat)
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        relay.reset()
        relay.engine.dispose()


@pytest.fixture
def events_probe(own_vhost: tuple[str, str]) -> Iterator[Probe]:
    """A queue bound to every routing key of ``cases.events`` in ``own_vhost``."""
    probe = Probe(own_vhost[1], "cases.events")
    yield probe
    probe.close()
