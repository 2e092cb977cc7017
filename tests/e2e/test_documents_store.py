"""The document store through the gateway: streamed uploads, versions, ranges, permissions, hostile input."""

from __future__ import annotations

import io
import uuid
import zipfile
from email.message import EmailMessage

import pytest

from casekit.testing.suite import Client
from tests.e2e.conftest import E2E_ENV, eventually

pytestmark = pytest.mark.e2e
LIMIT = int(E2E_ENV["MAX_UPLOAD_BYTES"])


def open_case(client: Client, title: str, **extra: object) -> dict:
    response = client.post("/api/v1/cases", json={"type": "complaint", "title": title, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def raw_upload(client: Client, case_id: str, data: object, **params: str):  # noqa: ANN201
    return client.post(
        f"/api/v1/cases/{case_id}/documents",
        params=params,
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )


def problem(response, status: int) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    return response.json()


@pytest.fixture(scope="module")
def case(admin: Client) -> dict:
    return open_case(admin, "Document store")


def test_multipart_is_streamed_with_tags_and_the_bytes_decide_the_type(admin: Client, case: dict) -> None:
    body = b"%PDF-1.4 not really" + b"x" * (LIMIT - 100)
    response = admin.post(
        f"/api/v1/cases/{case['id']}/documents",
        params={"kind": "fax", "channel": "fax", "tags": "urgent, meter"},
        files={"file": ("../../scan.txt", body, "text/plain"), "note": (None, "ignored")},
    )
    assert response.status_code == 201, response.text
    doc = response.json()
    assert (doc["filename"], doc["size"], doc["kind"], doc["channel"]) == (
        "scan.txt",
        len(body),
        "fax",
        "fax",
    )
    assert doc["media_type"] == "application/pdf" and doc["declared_type"] == "text/plain"
    assert doc["extension_mismatch"] is True and doc["tags"] == ["urgent", "meter"]
    assert (doc["version"], doc["group_id"]) == (1, doc["id"])
    got = admin.get(f"/api/v1/documents/{doc['id']}/content")
    assert got.content == body and got.headers["Content-Type"] == "application/pdf"


def test_versions_of_a_document(admin: Client, case: dict) -> None:
    first = raw_upload(admin, case["id"], b"draft one", filename="letter.txt").json()
    second = admin.post(
        f"/api/v1/documents/{first['id']}/versions",
        data=b"draft two, longer"
        + b"." * (LIMIT - 1000),  # above the 1 MB JSON limit, below the upload limit
        headers={"Content-Type": "application/octet-stream"},
    )
    assert second.status_code == 201, second.text
    second = second.json()
    assert (second["group_id"], second["version"], second["filename"]) == (first["id"], 2, "letter.txt")
    versions = admin.get(f"/api/v1/documents/{second['id']}/versions").json()
    assert [v["version"] for v in versions] == [1, 2]
    listed = admin.get(f"/api/v1/cases/{case['id']}/documents").json()
    assert second["id"] in [d["id"] for d in listed] and first["id"] not in [d["id"] for d in listed]
    every = admin.get(f"/api/v1/cases/{case['id']}/documents", params={"all_versions": "true"}).json()
    assert {first["id"], second["id"]} <= {d["id"] for d in every}


@pytest.mark.parametrize(
    ("header", "status", "expected"),
    [
        ("bytes=0-3", 206, b"0123"),
        ("bytes=-3", 206, b"789"),
        ("bytes=7-", 206, b"789"),
        (None, 200, b"0123456789"),
    ],
)
def test_download_with_ranges(
    admin: Client, case: dict, header: str | None, status: int, expected: bytes
) -> None:
    doc = raw_upload(admin, case["id"], b"0123456789", filename="digits.txt").json()
    got = admin.get(f"/api/v1/documents/{doc['id']}/content", headers={"Range": header} if header else {})
    assert (got.status_code, got.content) == (status, expected)
    assert got.headers["Content-Length"] == str(len(expected))
    assert got.headers["Content-Disposition"] == "attachment; filename*=UTF-8''digits.txt"
    assert got.headers["X-Content-Type-Options"] == "nosniff"


def test_an_unsatisfiable_range_is_416(admin: Client, case: dict) -> None:
    doc = raw_upload(admin, case["id"], b"short", filename="s.txt").json()
    got = admin.get(f"/api/v1/documents/{doc['id']}/content", headers={"Range": "bytes=10-20"})
    assert problem(got, 416)["code"] == "RANGE_NOT_SATISFIABLE"


def test_a_user_who_may_not_see_the_case_gets_404_everywhere(admin: Client, agent: Client) -> None:
    hidden = open_case(admin, "Team only", team="fraud")
    doc = raw_upload(admin, hidden["id"], b"secret", filename="s.txt").json()
    # the documents service learns the case's team from case_opened and refuses on its own too
    for path in (
        f"/api/v1/documents/{doc['id']}",
        f"/api/v1/documents/{doc['id']}/content",
        f"/api/v1/documents/{doc['id']}/versions",
        f"/api/v1/cases/{hidden['id']}/documents",
    ):
        problem(agent.get(path), 404)
    problem(raw_upload(agent, hidden["id"], b"x"), 404)
    problem(agent.post(f"/api/v1/documents/{doc['id']}/versions", data=b"x"), 404)


def test_a_retried_upload_with_the_same_idempotency_key_returns_the_same_document(
    admin: Client,
    case: dict,
    sql,  # noqa: ANN001
) -> None:
    key = str(uuid.uuid4())
    headers = {"Content-Type": "application/octet-stream", "Idempotency-Key": key}
    first = admin.post(f"/api/v1/cases/{case['id']}/documents", data=b"retried scan", headers=headers)
    second = admin.post(f"/api/v1/cases/{case['id']}/documents", data=b"retried scan", headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    rows = sql("documents", "SELECT count(*) FROM uploads WHERE idempotency_key = %s", (key,))
    assert rows == [(1,)]


def test_the_download_url_is_null_on_the_local_store(admin: Client, case: dict) -> None:
    doc = raw_upload(admin, case["id"], b"abc", filename="a.txt").json()
    ticket = admin.get(f"/api/v1/documents/{doc['id']}/download-url").json()
    assert ticket["url"] is None and ticket["content"].endswith("/content")


# --- hostile input ---------------------------------------------------------------------------


def counts(sql) -> tuple:  # noqa: ANN001
    return (
        sql("documents", "SELECT count(*) FROM documents")[0][0],
        sql("documents", "SELECT count(*) FROM uploads WHERE state = 'open'")[0][0],
    )


def test_oversize_multipart_is_413_and_leaves_nothing(admin: Client, case: dict, sql) -> None:  # noqa: ANN001
    before = counts(sql)
    response = admin.post(
        f"/api/v1/cases/{case['id']}/documents", files={"file": ("big.bin", b"z" * (LIMIT + 1))}
    )
    problem(response, 413)
    assert counts(sql) == before


def test_empty_multipart_file_is_422(admin: Client, case: dict, sql) -> None:  # noqa: ANN001
    before = counts(sql)
    problem(admin.post(f"/api/v1/cases/{case['id']}/documents", files={"file": ("e.txt", b"")}), 422)
    assert counts(sql) == before


def test_multipart_without_a_file_part_or_truncated_is_422(admin: Client, case: dict, sql) -> None:  # noqa: ANN001
    before = counts(sql)
    problem(admin.post(f"/api/v1/cases/{case['id']}/documents", files={"other": ("x.txt", b"x")}), 422)
    truncated = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhalf a fi'
    response = admin.post(
        f"/api/v1/cases/{case['id']}/documents",
        data=truncated,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    problem(response, 422)
    assert counts(sql) == before


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\win.ini", "win.ini"),
        ("evil\x00name.txt", "evilname.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("line\r\nbreak.txt", "linebreak.txt"),
        ("x" * 1000 + ".txt", "x" * 124 + ".txt"),
    ],
)
def test_hostile_names_are_sanitised(admin: Client, case: dict, name: str, stored: str) -> None:
    response = raw_upload(admin, case["id"], b"hello", filename=name)
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == stored


def test_an_unknown_kind_or_channel_is_422(admin: Client, case: dict) -> None:
    assert problem(raw_upload(admin, case["id"], b"x", kind="virus"), 422)["errors"][0]["field"] == "kind"
    assert problem(raw_upload(admin, case["id"], b"x", channel="A B"), 422)["errors"][0]["field"] == "channel"


def test_a_zip_bomb_is_stored_but_its_extraction_fails_plainly(admin: Client, case: dict) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\x00" * (50 * 1024 * 1024))
    doc = raw_upload(admin, case["id"], out.getvalue(), filename="bomb.zip").json()
    assert doc["media_type"] == "application/zip"
    done = eventually(
        lambda: (d := admin.get(f"/api/v1/documents/{doc['id']}").json())["text_status"] != "pending" and d
    )
    assert done["text_status"] == "failed" and "compression ratio" in done["text_error"]


def test_an_email_becomes_searchable_and_its_attachments_documents(admin: Client, case: dict) -> None:
    word = f"boiler{uuid.uuid4().hex[:8]}"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ann@example.org", "desk@example.org", "Heating"
    message.set_content(f"The {word} is broken.")
    message.add_attachment(b"meter 1234", maintype="text", subtype="plain", filename="reading.txt")
    doc = raw_upload(admin, case["id"], message.as_bytes(), filename="mail.eml", kind="email").json()
    assert doc["media_type"] == "message/rfc822"
    hits = eventually(lambda: admin.get("/api/v1/search", params={"q": word}).json()["items"])
    assert hits[0]["case_id"] == case["id"]
    children = eventually(
        lambda: [
            d
            for d in admin.get(f"/api/v1/cases/{case['id']}/documents").json()
            if d["parent_id"] == doc["id"]
        ]
    )
    assert [c["filename"] for c in children] == ["reading.txt"]
    assert admin.get(f"/api/v1/documents/{children[0]['id']}/content").content == b"meter 1234"
