"""gunicorn settings for the gateway (gthread workers; RPC proxies are made per thread after fork)."""

import os
import tempfile

# prometheus_client multiprocess mode: every worker writes its samples under this directory and
# /metrics merges them. Set here, in the master, before any worker imports prometheus_client.
# (prometheus_client's own optional variable: without it, a fresh temporary directory is used)
MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
if MULTIPROC not in os.environ:
    os.environ[MULTIPROC] = tempfile.mkdtemp(prefix="casework-gateway-metrics-")

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
    metrics_dir = Path(os.environ[MULTIPROC])
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):  # samples of an earlier run
        stale.unlink()


def child_exit(server, worker):
    """A dead worker's live gauges (in-flight requests) stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Live notification streams (server-sent events) end promptly when the worker is told to stop."""
    import signal

    from gateway.routes import messages

    for sig in (signal.SIGTERM, signal.SIGQUIT, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(signum, frame, previous=previous):
            messages.SHUTDOWN.set()
            if callable(previous):
                previous(signum, frame)

        signal.signal(sig, handler)
