"""DependencyProviders of the documents service."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from services.documents.extraction import Limits as ExtractionLimits
from services.documents.storage import BlobStore, LocalBlobStore


def _flag(value: Any) -> bool | None:
    if value is None or str(value).strip().lower() in ("", "auto"):
        return None
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def build_store(config: dict[str, Any]) -> BlobStore:
    """The blob store named by ``DOCUMENTS_BACKEND`` (``local`` or ``s3``)."""
    backend = str(config.get("DOCUMENTS_BACKEND", "local")).strip().lower()
    if backend == "local":
        return LocalBlobStore(config["DOCUMENTS_DATA_DIR"])
    if backend == "s3":
        from services.documents.s3 import S3BlobStore, client_from_settings

        missing = [k for k in ("S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY") if not config.get(k)]
        if missing:
            raise RuntimeError(f"DOCUMENTS_BACKEND=s3 needs {', '.join(missing)}")
        client = client_from_settings(
            str(config["S3_ENDPOINT"]),
            str(config["S3_ACCESS_KEY"]),
            str(config["S3_SECRET_KEY"]),
            _flag(config.get("S3_SECURE")),
        )
        return S3BlobStore(client, str(config.get("S3_BUCKET") or "casework-documents"))
    raise RuntimeError(f"unknown DOCUMENTS_BACKEND {backend!r} (local or s3)")


class BlobStorage(DependencyProvider):
    """Builds the configured blob store once per container."""

    def setup(self) -> None:
        self.store: BlobStore = build_store(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> BlobStore:
        return self.store


class Settings:
    def __init__(self, config: dict[str, Any]) -> None:
        self.max_bytes = int(config.get("MAX_UPLOAD_BYTES", 100 * 1024 * 1024))
        self.sweep_grace = int(config.get("DOCUMENTS_SWEEP_GRACE_SECONDS", 3600))
        self.upload_ttl = int(config.get("DOCUMENTS_UPLOAD_TTL_SECONDS", 86400))
        self.presign_seconds = int(config.get("DOCUMENTS_PRESIGN_SECONDS", 300))
        self.extraction = ExtractionLimits(
            cpu_seconds=int(config.get("EXTRACT_CPU_SECONDS", 20)),
            wall_seconds=float(config.get("EXTRACT_WALL_SECONDS", 30)),
            memory_bytes=int(config.get("EXTRACT_MEMORY_BYTES", 1024 * 1024 * 1024)),
        )


class Limits(DependencyProvider):
    """The service's settings: upload limit, sweep timings, presign lifetime, extraction limits."""

    def setup(self) -> None:
        self.settings = Settings(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> Settings:
        return self.settings
