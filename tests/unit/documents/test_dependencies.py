"""The blob store is chosen by configuration, never by code edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.documents.dependencies import Settings, build_store
from services.documents.s3 import client_from_settings
from services.documents.storage import LocalBlobStore


def test_local_is_the_default(tmp_path: Path) -> None:
    assert isinstance(build_store({"DOCUMENTS_DATA_DIR": str(tmp_path)}), LocalBlobStore)


def test_s3_without_its_settings_refuses_to_start() -> None:
    with pytest.raises(RuntimeError, match="S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY"):
        build_store({"DOCUMENTS_BACKEND": "s3", "S3_ENDPOINT": "", "S3_ACCESS_KEY": None})


def test_an_unknown_backend_refuses_to_start() -> None:
    with pytest.raises(RuntimeError, match="unknown DOCUMENTS_BACKEND"):
        build_store({"DOCUMENTS_BACKEND": "ftp"})


@pytest.mark.parametrize(
    ("endpoint", "secure", "expected"),
    [
        ("http://minio:9000", None, False),
        ("https://s3.example.org", None, True),
        ("minio:9000", None, False),
        ("http://minio:9000", True, True),
    ],
)
def test_the_endpoint_decides_tls_unless_told(endpoint: str, secure: bool | None, expected: bool) -> None:
    client = client_from_settings(endpoint, "a", "b", secure)
    assert client._base_url.is_https is expected  # noqa: SLF001 - no public accessor


def test_settings_defaults() -> None:
    settings = Settings({})
    assert settings.max_bytes == 100 * 1024 * 1024 and settings.extraction.cpu_seconds == 20
