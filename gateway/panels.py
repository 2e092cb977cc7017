"""External data panels: per case type, HTTP lookups to third-party systems shown in the case folder.

Configured in a YAML file (``PANELS_FILE``)::

    complaint:                       # case type key
      - name: billing
        url: "https://billing.example/api/accounts?email={customer.email}"
        timeout: 2                   # seconds (default 2)
        cache_seconds: 60            # default 60; 0 turns the cache off
        headers:
          Authorization: "Bearer ${BILLING_TOKEN}"   # ${VAR} comes from the gateway's environment

Placeholders name case fields (``{case.reference}``, ``{case.data.account}``) or the first party
in a role (``{customer.email}``); values are URL-encoded. Credentials come only from
configuration, never from the client. A lookup that fails, times out or whose placeholder is
empty is reported as missing; it never fails the folder.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import yaml

from gateway.settings import SettingsError

PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_]+)+)\}")
ENV = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
MAX_PANEL_BYTES = 256 * 1024


@dataclass(frozen=True)
class Panel:
    name: str
    url: str
    timeout: float = 2.0
    cache_seconds: float = 60.0
    headers: dict[str, str] = field(default_factory=dict)


def _env(value: str) -> str:
    def sub(match: re.Match) -> str:
        found = os.environ.get(match.group(1))
        if found is None:
            raise SettingsError(f"PANELS_FILE names ${{{match.group(1)}}}, which is not set")
        return found

    return ENV.sub(sub, value)


def load(path: str) -> dict[str, list[Panel]]:
    """Panels by case type; an empty mapping without a file."""
    if not path:
        return {}
    raw = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(raw, dict):
        raise SettingsError("PANELS_FILE must map case types to lists of panels")
    out: dict[str, list[Panel]] = {}
    for case_type, items in raw.items():
        panels = []
        for item in items or []:
            try:
                panels.append(
                    Panel(
                        name=str(item["name"]),
                        url=str(item["url"]),
                        timeout=float(item.get("timeout", 2.0)),
                        cache_seconds=float(item.get("cache_seconds", 60.0)),
                        headers={str(k): _env(str(v)) for k, v in (item.get("headers") or {}).items()},
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise SettingsError(f"PANELS_FILE: panel of {case_type} is invalid ({exc})") from None
        out[str(case_type)] = panels
    return out


def _lookup(value: Any, dotted: list[str]) -> Any:
    for part in dotted:
        if isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def render_url(template: str, case: dict[str, Any]) -> str | None:
    """The URL with placeholders filled from the case; None when one of them has no value."""
    missing = False

    def sub(match: re.Match) -> str:
        nonlocal missing
        root, *rest = match.group(1).split(".")
        if root == "case":
            value = _lookup(case, rest)
        else:
            party = next((p for p in case.get("parties") or [] if p.get("role") == root), None)
            value = _lookup(party.get("party", party), rest) if party else None
            if value is None and party:
                value = _lookup(party, rest)
        if value in (None, "") or isinstance(value, dict | list):
            missing = True
            return ""
        return quote(str(value), safe="")

    url = PLACEHOLDER.sub(sub, template)
    return None if missing else url


class Panels:
    def __init__(self, config: dict[str, list[Panel]], workers: int = 8) -> None:
        self.config = config
        self.cache: dict[str, tuple[float, Any]] = {}
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="panel") if config else None
        self.http = requests.Session()

    def _fetch(self, panel: Panel, url: str) -> Any:
        now = time.monotonic()
        with self.lock:
            hit = self.cache.get(url)
        if hit is not None and hit[0] > now:
            return hit[1]
        response = self.http.get(url, headers=panel.headers, timeout=panel.timeout, stream=True)
        response.raise_for_status()
        body = response.raw.read(MAX_PANEL_BYTES + 1, decode_content=True)
        if len(body) > MAX_PANEL_BYTES:
            raise ValueError("panel answer too large")
        value = json.loads(body)
        if panel.cache_seconds > 0:
            with self.lock:
                if len(self.cache) > 5000:
                    self.cache.clear()
                self.cache[url] = (now + panel.cache_seconds, value)
        return value

    def gather(self, case: dict[str, Any], budget: float) -> tuple[dict[str, Any], list[str]]:
        """``({name: data}, [missing panel names])`` for the case's type, within ``budget`` seconds."""
        panels = self.config.get(str(case.get("type") or case.get("case_type") or ""), [])
        if not panels or self.pool is None:
            return {}, []
        found: dict[str, Any] = {}
        missing: list[str] = []
        futures = {}
        for panel in panels:
            url = render_url(panel.url, case)
            if url is None:
                missing.append(f"panel:{panel.name}")
                continue
            futures[self.pool.submit(self._fetch, panel, url)] = panel.name
        done, _ = wait(futures, timeout=max(0.05, budget))
        for future, name in futures.items():
            if future in done and future.exception() is None:
                found[name] = future.result()
            else:
                missing.append(f"panel:{name}")
        return found, missing
