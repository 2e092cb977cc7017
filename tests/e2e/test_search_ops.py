"""Operating the index of a running suite with ``python -m services.search.cli``: rebuild, lose and repair."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from casekit.launcher import Suite
from casekit.testing import infra
from casekit.testing.suite import Client
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e


def cli(suite: Suite, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [suite.python, "-m", "services.search.cli", *args],
        cwd=infra.ROOT,
        env={**os.environ, **suite.env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def found(client: Client, q: str) -> list[str]:
    response = client.get("/api/v1/search", params={"q": q})
    assert response.status_code == 200, response.text
    return [i["case_id"] for i in response.json()["items"]]


def open_case(admin: Client, title: str) -> str:
    response = admin.post("/api/v1/cases", json={"type": "complaint", "title": title})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_the_cli_rebuilds_the_index_beside_the_live_one(suite: Suite, admin: Client) -> None:
    word = f"rebuilt{uuid.uuid4().hex[:8]}"
    case_id = open_case(admin, f"{word} case")
    eventually(lambda: found(admin, word) == [case_id] or None)

    done = cli(suite, "reindex", "--batch", "50")

    assert done.returncode == 0, done.stderr
    assert "100.0%" in done.stderr
    state = json.loads(done.stdout)
    assert state["running"] is False and state["error"] is None and state["copied"] >= 1
    assert found(admin, word) == [case_id]
    assert json.loads(cli(suite, "status").stdout)["rebuild"]["copied"] == state["copied"]


def test_a_lost_index_is_repaired_from_the_cases_service(suite: Suite, admin: Client) -> None:
    word = f"repaired{uuid.uuid4().hex[:8]}"
    case_id = open_case(admin, f"{word} case")
    eventually(lambda: found(admin, word) == [case_id] or None)

    suite.kill("search")
    data = Path(suite.env["SEARCH_DATA_DIR"])
    shutil.rmtree(data, ignore_errors=True)
    suite.start(["search"])
    suite.wait_ready(timeout=60)
    assert found(admin, word) == []

    report = json.loads(cli(suite, "check").stdout)
    assert report["missing"] >= 1 and report["repaired"] == 0
    repaired = json.loads(cli(suite, "check", "--repair").stdout)
    assert repaired["repaired"] >= 1

    assert found(admin, word) == [case_id]
    after = json.loads(cli(suite, "check").stdout)
    assert (after["missing"], after["extra"]) == (0, 0)
