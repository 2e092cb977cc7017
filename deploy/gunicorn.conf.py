"""gunicorn settings for the gateway (gthread workers; RPC proxies are made per thread after fork)."""

import os

bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GATEWAY_THREADS", "16"))
# longer than the RPC timeout, so a slow service gets a 503 and never a killed worker
timeout = int(os.environ.get("GATEWAY_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = 20000
max_requests_jitter = 2000
preload_app = False
accesslog = os.environ.get("GATEWAY_ACCESS_LOG", "-") or None
errorlog = "-"
limit_request_line = 8190
limit_request_fields = 100


def on_starting(server):
    """Apply the gateway's migrations once, in the master, before any worker starts."""
    from pathlib import Path

    from casekit.db import migrate
    from gateway.settings import Settings

    settings = Settings.from_env()
    migrate(Path(__file__).resolve().parents[1] / "gateway" / "migrations", settings.db_url)
