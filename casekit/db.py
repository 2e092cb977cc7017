"""The Database DependencyProvider, metadata conventions and migrations-on-start.

Each service owns its own database, metadata and Alembic history; this module
only holds the plumbing they share.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
from alembic import command
from alembic.config import Config as AlembicConfig
from nameko.extensions import DependencyProvider
from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from casekit.errors import DatabaseUnavailable
from casekit.faults import armed, crashpoint

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Server-side guards: a stuck statement or an abandoned transaction must not hold
# rows or connections for longer than the callers will wait.
SESSION_OPTIONS = (
    "-c statement_timeout=15000 -c lock_timeout=5000 -c idle_in_transaction_session_timeout=30000"
)


RETRY_AFTER_SECONDS = 5


def is_unavailable(exc: BaseException | None) -> bool:
    """True for a database that is down, restarting, unreachable or out of time or connections.

    Such a failure is transient: the request may be retried, an event handled later. A
    constraint violation, bad SQL or a serialization error is not in this family.
    """
    if isinstance(exc, DatabaseUnavailable | sa_exc.TimeoutError):  # TimeoutError: pool exhausted
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    return isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError)


def unavailable_from(exc: BaseException) -> DatabaseUnavailable:
    """The typed error a caller gets for ``exc`` (see ``is_unavailable``)."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    reason = type(getattr(exc, "orig", None) or exc).__name__
    return DatabaseUnavailable(f"the database is unavailable ({reason}); retry later", RETRY_AFTER_SECONDS)


def green_psycopg() -> None:
    """Make psycopg2 yield to the eventlet hub when the process is monkey patched."""
    from eventlet import patcher

    if patcher.is_monkey_patched("socket"):
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()


def make_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, *, pool_size: int = 10, **kwargs: Any) -> Engine:
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("options", SESSION_OPTIONS)
    connect_args.setdefault("connect_timeout", 5)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,  # a worker holds at most one connection: the pool never needs more
        pool_pre_ping=True,
        pool_timeout=5,
        connect_args=connect_args,
        **kwargs,
    )


def alembic_config(migrations_dir: Path, url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(migrations_dir: Path, url: str, revision: str = "heads") -> None:
    """Upgrade to ``revision`` under an advisory lock, so N replicas can start at once."""
    lock_id = zlib.crc32(str(migrations_dir).encode())
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_id})
            try:
                cfg = alembic_config(migrations_dir, url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_id})
                conn.commit()
    finally:
        engine.dispose()


def run_alembic_env(context: Any, target_metadata: MetaData) -> None:
    """Body of every service's ``migrations/env.py``."""
    cfg = context.config
    conn = cfg.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(cfg.get_main_option("sqlalchemy.url"), pool_size=1)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


class Database(DependencyProvider):
    """One engine per service container; one session per worker, closed on teardown.

    Reads ``DB_URL`` from the container config. With ``migrations`` set, the
    service applies its migrations when it starts.
    """

    def __init__(self, migrations: Path | None = None, pool_size: int | None = None) -> None:
        self.migrations = migrations
        self.pool_size = pool_size
        self.sessions: dict[Any, Session] = {}

    def setup(self) -> None:
        green_psycopg()
        url = self.container.config["DB_URL"]
        if self.migrations is not None and os.environ.get("CASEWORK_SKIP_MIGRATIONS") != "1":
            migrate(self.migrations, url)
        pool = self.pool_size or int(self.container.config.get("max_workers", 10))
        self.engine = make_engine(url, pool_size=pool)
        self.Session = sessionmaker(bind=self.engine, expire_on_commit=False)
        if armed("db_after_commit"):
            event.listen(self.Session, "after_commit", lambda _session: crashpoint("db_after_commit"))

    def stop(self) -> None:
        self.engine.dispose()

    def get_dependency(self, worker_ctx: Any) -> Session:
        session = self.Session()
        self.sessions[worker_ctx] = session
        return session

    def worker_teardown(self, worker_ctx: Any) -> None:
        session = self.sessions.pop(worker_ctx, None)
        if session is not None:
            try:
                session.close()
            except Exception:  # noqa: BLE001 - a dead connection must not take the container down
                log.warning("closing a session failed; its connection is discarded", exc_info=True)
                try:
                    session.invalidate()
                except Exception:  # noqa: BLE001
                    log.debug("invalidate failed", exc_info=True)


@contextmanager
def transaction(session_factory: sessionmaker) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception.

    A database that is down or not answering surfaces as ``DatabaseUnavailable`` (a 503 with
    ``Retry-After`` at the gateway), never as an unexpected error.
    """
    session = session_factory()
    try:
        yield session
        session.commit()
    except BaseException as exc:
        try:
            session.rollback()
        except Exception:  # noqa: BLE001 - the connection may be gone; the pool discards it
            log.debug("rollback failed", exc_info=True)
        if is_unavailable(exc) and not isinstance(exc, DatabaseUnavailable):
            raise unavailable_from(exc) from exc
        raise
    finally:
        try:
            session.close()
        except Exception:  # noqa: BLE001
            log.debug("close failed", exc_info=True)


def utcnow() -> datetime:
    return datetime.now(UTC)
