"""Every SQL service's Alembic history goes up, down and up again, and matches its models."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import psycopg2
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, text

from casekit.db import alembic_config, migrate
from casekit.outbox import notify_channel
from casekit.testing import infra
from tests.integration.helpers import eventually, sql

pytestmark = pytest.mark.integration

MODELS = {
    "cases": "services.cases.models",
    "documents": "services.documents.models",
    "routing": "services.routing.models",
    "notifications": "services.notifications.models",
    "gateway": "gateway.webhooks.models",  # imports gateway.users: every gateway table
    "search": "services.search.reports.models",  # the reports read model
}


def metadata_of(service: str) -> MetaData:
    module = importlib.import_module(MODELS[service])
    return module.Base.metadata if hasattr(module, "Base") else module.metadata


def schema_diff(url: str, metadata: MetaData) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def user_tables(url: str) -> set[str]:
    rows = sql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {name for (name,) in rows}


def user_functions(url: str) -> set[str]:
    rows = sql(
        url,
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public'",
    )
    return {name for (name,) in rows}


@pytest.mark.parametrize("service", sorted(MODELS))
def test_upgrade_downgrade_upgrade_matches_the_models(
    service: str, make_databases: Callable[..., dict[str, str]]
) -> None:
    url = make_databases(service, migrated=False)[service]
    cfg = alembic_config(infra.migrations_dir(service), url)
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1, f"{service} has {len(heads)} migration heads"
    metadata = metadata_of(service)

    command.upgrade(cfg, "head")
    assert current_revision(url) == heads[0]
    assert user_tables(url) == {*metadata.tables, "alembic_version"}
    assert schema_diff(url, metadata) == []

    command.downgrade(cfg, "base")
    assert current_revision(url) is None
    assert user_tables(url) == {"alembic_version"}
    assert user_functions(url) == set(), "the downgrade leaves no functions (outbox_notify) behind"

    command.upgrade(cfg, "head")
    assert current_revision(url) == heads[0]
    assert schema_diff(url, metadata) == []
    migrate(infra.migrations_dir(service), url)  # what a starting service does: a no-op at head
    assert current_revision(url) == heads[0]


@pytest.mark.parametrize("service", ["cases", "documents", "routing", "notifications"])
def test_an_outbox_insert_wakes_the_relay_of_that_service(
    service: str, make_databases: Callable[..., dict[str, str]]
) -> None:
    url = make_databases(service)[service]
    listener = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        listener.autocommit = True
        listener.cursor().execute(f"LISTEN {notify_channel(service)}")
        sql(url, "INSERT INTO outbox (event_id, type, payload) VALUES ('e-1', 'x', '{}'::jsonb)")

        def notified() -> list[Any]:
            listener.poll()
            return [n.channel for n in listener.notifies]

        assert eventually(notified, timeout=5.0) == [notify_channel(service)]
    finally:
        listener.close()


def test_the_schema_comparison_detects_drift(make_databases: Callable[..., dict[str, str]]) -> None:
    """Negative control: a schema that differs from the models must show up in the diff."""
    url = make_databases("cases")["cases"]
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE outbox DROP COLUMN last_error"))
            conn.execute(text("ALTER TABLE cases ALTER COLUMN title TYPE varchar(50)"))
    finally:
        engine.dispose()
    diffs = schema_diff(url, metadata_of("cases"))
    kinds = {diff[0] if isinstance(diff, tuple) else diff[0][0] for diff in diffs}
    assert {"add_column", "modify_type"} <= kinds
