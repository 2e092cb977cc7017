"""Document store benchmark: upload and download MB/s through the gateway, and the gateway's memory
during a 500 MB upload.

It starts a fresh suite (``running_suite``) on the local store with ``MAX_UPLOAD_BYTES`` raised for
the big upload, opens one case, then for each size (1 MB and 50 MB by default) uploads files with
distinct random bytes, as a raw body and as multipart, and downloads each back (checking the hash).
During the 500 MB upload (a generator on the client side, so the load generator does not hold it
either) a sampler reads the resident memory of the gateway's process tree every 20 ms; the figure
is the peak minus the level just before the upload. It reports and never asserts.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procstats import suite_pids, tree  # noqa: E402

from casekit.testing.suite import Client, running_suite  # noqa: E402

MB = 1024 * 1024
now = time.perf_counter


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class Sampler(threading.Thread):
    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid, self.peak, self.running = root_pid, 0.0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb(tree(self.root_pid)))
            time.sleep(0.02)


def upload(client: Client, case_id: str, data: bytes, multipart: bool) -> tuple[float, dict]:
    start = now()
    if multipart:
        response = client.post(
            f"/api/v1/cases/{case_id}/documents", files={"file": ("f.bin", data)}, timeout=600
        )
    else:
        response = client.post(
            f"/api/v1/cases/{case_id}/documents",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=600,
        )
    elapsed = now() - start
    response.raise_for_status()
    return elapsed, response.json()


def download(client: Client, doc: dict) -> float:
    start = now()
    digest = hashlib.sha256()
    with client.http.get(
        f"{client.base}/api/v1/documents/{doc['id']}/content", stream=True, timeout=600
    ) as got:
        got.raise_for_status()
        for chunk in got.iter_content(MB):
            digest.update(chunk)
    elapsed = now() - start
    if digest.hexdigest() != doc["sha256"]:
        raise RuntimeError("downloaded bytes differ from the upload")
    return elapsed


def measure(client: Client, case_id: str, size_mb: int, count: int) -> list[str]:
    rows = []
    for multipart in (False, True):
        up, down = 0.0, 0.0
        for _ in range(count):
            data = os.urandom(size_mb * MB)
            elapsed, doc = upload(client, case_id, data, multipart)
            up += elapsed
            down += download(client, doc)
        total = size_mb * count
        rows.append(
            f"| {size_mb} MB | {'multipart' if multipart else 'raw body'} | {count} | "
            f"{total / up:.1f} | {total / down:.1f} |"
        )
    return rows


def big_upload(client: Client, case_id: str, run_dir: Path, size_mb: int) -> str:
    gateway = suite_pids(run_dir)["gateway"]
    time.sleep(1.0)
    before = rss_mb(tree(gateway))
    sampler = Sampler(gateway)
    sampler.start()
    block = os.urandom(MB)

    def body():  # noqa: ANN202
        for i in range(size_mb):
            yield block[i % 251 :] + block[: i % 251]

    start = now()
    response = client.post(
        f"/api/v1/cases/{case_id}/documents",
        data=body(),
        headers={"Content-Type": "application/octet-stream"},
        timeout=1800,
    )
    elapsed = now() - start
    sampler.running = False
    sampler.join()
    response.raise_for_status()
    return (
        f"| {size_mb} MB raw body (chunked) | {size_mb / elapsed:.1f} MB/s | {before:.0f} MB | "
        f"{sampler.peak:.0f} MB | {sampler.peak - before:+.0f} MB |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,50", help="file sizes in MB")
    parser.add_argument("--count-small", type=int, default=20, help="files per run for sizes under 10 MB")
    parser.add_argument("--count-large", type=int, default=3, help="files per run for the other sizes")
    parser.add_argument("--big", type=int, default=500, help="size of the memory-watch upload in MB")
    parser.add_argument("--run-dir", default=None)
    args = parser.parse_args()
    env = {"MAX_UPLOAD_BYTES": str((args.big + 1) * MB), "RPC_TIMEOUT": "30", "GATEWAY_ACCESS_LOG": ""}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(args.run_dir or tmp)
        with running_suite(run_dir, extra_env=env) as suite:
            client = Client(suite.gateway_url)
            case = client.post("/api/v1/cases", json={"type": "complaint", "title": "Document bench"}).json()
            print("| file size | upload as | files | upload MB/s | download MB/s |")
            print("|---|---|---|---|---|")
            for size in (int(s) for s in args.sizes.split(",")):
                count = args.count_small if size < 10 else args.count_large
                for row in measure(client, case["id"], size, count):
                    print(row, flush=True)
            print()
            print("| upload | rate | gateway RSS before | gateway RSS peak | growth |")
            print("|---|---|---|---|---|")
            print(big_upload(client, case["id"], run_dir, args.big), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
