"""The console's static files: served with a strict CSP, no inline code, nothing outside static/."""

from __future__ import annotations

import re

import pytest

from gateway.web import STATIC
from tests.unit.gateway.helpers import Gateway


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


def test_the_front_page_redirects_to_the_console(gateway: Gateway) -> None:
    response = gateway.client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/console/")


def test_the_console_page_and_its_modules_are_served_with_a_strict_csp(gateway: Gateway) -> None:
    page = gateway.client.get("/console/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    script = gateway.client.get("/console/js/app.js")
    assert script.status_code == 200
    assert script.mimetype == "text/javascript"
    assert gateway.client.get("/console/css/console.css").mimetype == "text/css"


@pytest.mark.parametrize(
    "path", ["/console/../app.py", "/console/%2e%2e/__init__.py", "/console/js", "/console/nope.js"]
)
def test_nothing_outside_the_static_folder_is_served(gateway: Gateway, path: str) -> None:
    assert gateway.client.get(path).status_code == 404


def test_the_console_is_not_in_the_openapi_document(gateway: Gateway) -> None:
    paths = gateway.client.get("/api/v1/docs/openapi.json").get_json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/console")]


def test_the_console_has_no_inline_script_style_or_handlers() -> None:
    html = (STATIC / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline <script>"
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"


def test_the_modules_build_no_html_from_strings_and_never_put_the_token_in_a_url() -> None:
    for module in (STATIC / "js").glob("*.js"):
        source = module.read_text()
        assert "innerHTML" not in source and "insertAdjacentHTML" not in source, module.name
        assert "eval(" not in source and "new Function" not in source, module.name
        assert not re.search(r"[?&](access_)?token=", source), module.name
        assert "EventSource" not in source, module.name
