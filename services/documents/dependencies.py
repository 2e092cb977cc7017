"""DependencyProviders of the documents service."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from services.documents.storage import BlobStore, LocalBlobStore


class BlobStorage(DependencyProvider):
    """Builds the configured blob store once per container (``DOCUMENTS_BACKEND``)."""

    def setup(self) -> None:
        config = self.container.config
        backend = config.get("DOCUMENTS_BACKEND", "local")
        if backend != "local":
            raise RuntimeError(f"unknown DOCUMENTS_BACKEND {backend!r}")
        self.store: BlobStore = LocalBlobStore(config["DOCUMENTS_DATA_DIR"])

    def get_dependency(self, worker_ctx: Any) -> BlobStore:
        return self.store


class Limits(DependencyProvider):
    def setup(self) -> None:
        self.max_bytes = int(self.container.config.get("MAX_UPLOAD_BYTES", 100 * 1024 * 1024))

    def get_dependency(self, worker_ctx: Any) -> int:
        return self.max_bytes
