"""The whole suite with ``DOCUMENTS_BACKEND=s3`` against moto's S3 server on loopback: streamed
upload and ranged download through the gateway, presigned download and direct upload."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests

from casekit.launcher import Suite
from casekit.testing.suite import Client, running_suite
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def s3_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "DOCUMENTS_BACKEND": "s3",
        "S3_ENDPOINT": f"http://{host}:{port}",
        "S3_ACCESS_KEY": "test",
        "S3_SECRET_KEY": "test",
        "S3_BUCKET": "casework-e2e",
        "GATEWAY_WORKERS": "1",
        "GATEWAY_ACCESS_LOG": "",
    }
    try:
        with running_suite(tmp_path_factory.mktemp("s3suite"), extra_env=env) as suite:
            yield suite
    finally:
        server.stop()


def test_documents_on_s3_through_the_gateway(s3_suite: Suite) -> None:
    admin = Client(s3_suite.gateway_url)
    case = admin.post("/api/v1/cases", json={"type": "complaint", "title": "On S3"}).json()
    data = b"stored in a bucket " * 1000
    doc = admin.post(
        f"/api/v1/cases/{case['id']}/documents", files={"file": ("bucket.txt", data, "text/plain")}
    ).json()
    assert doc["size"] == len(data) and doc["media_type"] == "text/plain"
    ranged = admin.get(f"/api/v1/documents/{doc['id']}/content", headers={"Range": "bytes=7-12"})
    assert (ranged.status_code, ranged.content) == (206, data[7:13])

    ticket = admin.get(f"/api/v1/documents/{doc['id']}/download-url").json()
    assert ticket["expires_in"] > 0
    direct = requests.get(ticket["url"], timeout=10)
    assert direct.content == data and "bucket.txt" in direct.headers["Content-Disposition"]

    begun = admin.post(f"/api/v1/cases/{case['id']}/direct-uploads", json={"filename": "big.txt"})
    assert begun.status_code == 201, begun.text
    assert requests.put(begun.json()["url"], data=b"skipped the gateway", timeout=10).status_code == 200
    finished = admin.post(f"/api/v1/uploads/{begun.json()['upload_id']}/finish")
    assert finished.status_code == 201, finished.text
    assert admin.get(f"/api/v1/documents/{finished.json()['id']}/content").content == b"skipped the gateway"
    done = eventually(
        lambda: (d := admin.get(f"/api/v1/documents/{doc['id']}").json())["text_status"] != "pending" and d
    )
    assert done["text_status"] == "extracted"
