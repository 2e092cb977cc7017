"""The case folder view (parts missing, never a failure) and external data panels over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from casekit.errors import NotFound, Unavailable
from gateway.panels import Panel, Panels, load, render_url
from gateway.settings import SettingsError
from tests.unit.gateway.helpers import Gateway

CASE = {
    "id": "c-1",
    "type": "complaint",
    "reference": "CMP-2026-000001",
    "version": 3,
    "data": {"account": "A/42"},
    "parties": [{"role": "customer", "party": {"name": "Ann", "email": "ann@example.org"}}],
}


class Crm:
    def __init__(self) -> None:
        self.hits: list[dict[str, Any]] = []
        self.delay = 0.0
        crm = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                crm.hits.append({"path": self.path, "auth": self.headers.get("Authorization")})
                time.sleep(crm.delay)
                body = json.dumps({"path": self.path, "tier": "gold"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def crm() -> Iterator[Crm]:
    server = Crm()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_placeholders_are_filled_and_encoded() -> None:
    url = render_url("http://x/a?e={customer.email}&r={case.reference}&k={case.data.account}", CASE)
    assert url == "http://x/a?e=ann%40example.org&r=CMP-2026-000001&k=A%2F42"
    assert render_url("http://x/{applicant.email}", CASE) is None


def test_panels_fetch_cache_and_report_the_missing(crm: Crm) -> None:
    panels = Panels(
        {
            "complaint": [
                Panel(
                    "billing",
                    crm.base + "/accounts?email={customer.email}",
                    headers={"Authorization": "Bearer s"},
                ),
                Panel("down", "http://127.0.0.1:9/nothing", timeout=0.5),
                Panel("unkeyed", crm.base + "/x/{case.data.missing}"),
            ]
        }
    )
    found, missing = panels.gather(CASE, budget=2.0)
    assert found["billing"]["tier"] == "gold"
    assert sorted(missing) == ["panel:down", "panel:unkeyed"]
    assert crm.hits[0]["auth"] == "Bearer s"  # credentials come from configuration

    panels.gather(CASE, budget=2.0)
    assert len(crm.hits) == 1  # cached


def test_a_slow_panel_is_missing_within_the_budget(crm: Crm) -> None:
    crm.delay = 1.0
    panels = Panels({"complaint": [Panel("slow", crm.base + "/slow", timeout=5, cache_seconds=0)]})
    found, missing = panels.gather(CASE, budget=0.2)
    assert found == {} and missing == ["panel:slow"]


def test_the_panels_file_takes_credentials_from_the_environment(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    path = tmp_path / "panels.yml"
    path.write_text(
        "complaint:\n  - name: crm\n    url: http://crm/{case.reference}\n"
        "    headers: {Authorization: 'Bearer ${CRM_TOKEN}'}\n"
    )
    monkeypatch.setenv("CRM_TOKEN", "t0ken")
    assert load(str(path))["complaint"][0].headers == {"Authorization": "Bearer t0ken"}
    monkeypatch.delenv("CRM_TOKEN")
    with pytest.raises(SettingsError):
        load(str(path))


def test_the_folder_reports_parts_that_fail_as_missing(crm: Crm, tmp_path: Path) -> None:
    path = tmp_path / "panels.yml"
    path.write_text(f"complaint:\n  - name: crm\n    url: {crm.base}/c/{{case.reference}}\n")
    gw = Gateway(panels_file=str(path))
    gw.add_user("u-1", ["agent"])
    gw.rpc.answers.update(
        {
            ("cases", "get_case"): CASE,
            ("documents", "list_for_case"): Unavailable("documents did not answer in time"),
            ("routing", "get_work_item"): NotFound("no work item"),
            ("routing", "case_clocks"): {"clocks": [{"name": "resolution"}]},
            ("cases", "timeline"): {"items": [{"seq": i} for i in range(30)], "next_after": None},
        }
    )
    response = gw.client.get("/api/v1/cases/c-1/folder", headers=gw.auth("u-1"))

    assert response.status_code == 200 and response.headers["ETag"] == '"3"'
    folder = response.get_json()
    assert folder["missing"] == ["documents"]
    assert folder["documents"] is None and folder["assignment"] is None
    assert folder["sla"] == [{"name": "resolution"}]
    assert [i["seq"] for i in folder["timeline"]] == list(range(10, 30))
    assert folder["parties"][0]["role"] == "customer"
    assert folder["panels"]["crm"]["path"] == "/c/CMP-2026-000001"


def test_the_folder_of_an_invisible_case_is_404() -> None:
    gw = Gateway()
    gw.add_user("u-1", ["agent"])
    gw.rpc.answers[("cases", "get_case")] = NotFound("no such case")
    assert gw.client.get("/api/v1/cases/c-9/folder", headers=gw.auth("u-1")).status_code == 404
