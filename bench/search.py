"""Search benchmark: bulk indexing, rebuild, search latency through the gateway, creation -> searchable.

    .venv/bin/python bench/search.py                      # 1,000,000 generated cases (long: a benchmark)
    .venv/bin/python bench/search.py --cases 20000        # smaller
    .venv/bin/python bench/search.py --cases 20000 --queries 300 --clients 4 --created 200

1. **Indexing rate.** ``--cases`` generated cases, each with ``--notes`` notes and ``--documents``
   documents of extracted text, are built into the embedded index of a fresh run directory with the
   search service's own code (``mappings.apply_event``, ``TantivyEngine.put_source``), committed in
   bulk batches of ``--batch``. Reported as cases/s and index documents' source MB.
2. **Search latency through the gateway.** A fresh suite (``running_suite``) starts on that index;
   ``--clients`` threads log in as the seeded admin and send ``--queries`` requests of each kind:
   free text (one or two vocabulary words), filtered (a word plus ``type:``, ``status:``, a
   ``priority:>=`` range), faceted (a word with ``facets=true``), and deep pages (cursor paging).
   p50 / p99 / mean ms and requests/s per kind.
3. **Rebuild time.** ``search.reindex`` over RPC: the service builds a new index beside the live one
   in bulk batches and swaps it in; free-text searches keep running and their latency during the
   rebuild is reported with the rebuild time.
4. **Creation -> searchable.** ``--created`` cases are opened through ``POST /api/v1/cases`` one after
   another; for each, ``search.index_entries`` is asked every 5 ms until the case is in the committed
   index. p50 / p99 ms.

It reports and never asserts. The 1M load takes a while on 2 cores (and several GB of disk in the
temporary directory); ``--cases`` makes it smaller. Nothing here runs in the test tiers.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nameko.standalone.rpc import ClusterRpcProxy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from casekit.context import Principal  # noqa: E402
from casekit.contracts.events import make_envelope  # noqa: E402
from casekit.testing.suite import Client, running_suite  # noqa: E402
from services.search import mappings  # noqa: E402
from services.search.tantivy_index import TantivyEngine  # noqa: E402

now = time.perf_counter
VOCAB = [
    "boiler",
    "heating",
    "radiator",
    "leak",
    "damp",
    "mould",
    "window",
    "door",
    "roof",
    "gutter",
    "chimney",
    "invoice",
    "refund",
    "meter",
    "tariff",
    "complaint",
    "overcharged",
    "arrears",
    "payment",
    "plan",
    "letter",
    "neighbour",
    "noise",
    "parking",
    "permit",
    "council",
    "benefit",
    "claim",
    "insurance",
    "water",
    "pipe",
    "flood",
    "kitchen",
    "bathroom",
    "electricity",
    "outage",
    "engineer",
    "visit",
    "appointment",
    "broken",
    "delayed",
    "missing",
    "cancelled",
    "direct",
    "debit",
    "statement",
    "balance",
    "account",
    "transfer",
    "fraud",
    "dispute",
]
FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Ann",
    "Bob",
    "Carol",
    "Dinesh",
    "Eve",
    "Farah",
    "Gita",
    "Hugo",
    "Ivan",
    "Jun",
    "Kemi",
    "Liam",
    "Mei",
    "Nora",
    "Omar",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Smith",
    "Jones",
    "Patel",
    "Khan",
    "Okafor",
    "Novak",
    "Garcia",
    "Silva",
    "Tanaka",
    "Berg",
    "Moreau",
]
TYPES = ("complaint", "claim", "application", "arrears", "investigation")
STAGES = ("received", "triage", "investigating", "awaiting_customer", "resolved")
PRIORITIES = ("low", "normal", "normal", "normal", "high", "urgent")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


SYLLABLES = ["ka", "lo", "mi", "ren", "tu", "vas", "po", "dri", "sen", "ul", "fa", "gor", "he", "ix", "jo"]
SYNTHETIC = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES][:3000]
LEXICON = VOCAB + SYNTHETIC  # Zipf-distributed: the real words are the frequent ones
CUM_WEIGHTS = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(LEXICON))))


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(LEXICON, cum_weights=CUM_WEIGHTS, k=n))


def query_word(rng: random.Random) -> str:
    """A word of middling frequency (ranks 20 to 520): matches hundreds to tens of thousands of cases."""
    return LEXICON[rng.randrange(20, 520)]


def generated_events(n: int, rng: random.Random, notes: int, documents: int) -> list[dict[str, Any]]:
    case_id = str(uuid.uuid4())
    created = T0 + timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    case = {
        "id": case_id,
        "reference": f"{rng.choice(('CMP', 'CLM', 'APP', 'ARR', 'INV'))}-{created.year}-{n:06d}",
        "type": rng.choice(TYPES),
        "type_version": 1,
        "title": words(rng, 5).capitalize(),
        "description": words(rng, 30),
        "priority": rng.choice(PRIORITIES),
        "status": "open" if rng.random() < 0.7 else "closed",
        "stage": rng.choice(STAGES),
        "channel": rng.choice(("web", "email", "phone", "post")),
        "data": {"product": words(rng, 1), "amount": rng.randrange(1, 5000)},
        "version": 1,
        "created_by": "bench",
        "created_at": created.isoformat(),
        "updated_at": created.isoformat(),
        "parties": [
            {
                "id": f"{case_id}-p",
                "name": name,
                "kind": "person",
                "role": "customer",
                "emails": [f"{name.replace(' ', '.').lower()}.{n}@example.org"],
                "phones": [f"020 7946 {n % 10000:04d}"],
            }
        ],
        "team": rng.choice((None, None, None, "north", "south")),
        "restricted": rng.random() < 0.05,
        "closed_at": None,
    }
    out = [
        make_envelope(
            producer="cases", type="case_opened", case_id=case_id, case_version=1, data={"case": case}
        )
    ]
    for k in range(notes):
        note = {
            "id": f"{case_id}-n{k}",
            "body": words(rng, 25),
            "visibility": "internal",
            "created_at": case["created_at"],
        }
        out.append(
            make_envelope(
                producer="cases",
                type="note_added",
                case_id=case_id,
                case_version=2 + k,
                data={"case": {**case, "version": 2 + k}, "note": note},
            )
        )
    for k in range(documents):
        text = words(rng, 150)
        out.append(
            make_envelope(
                producer="documents",
                type="document_text_extracted",
                case_id=case_id,
                data={"document_id": f"{case_id}-d{k}", "filename": f"letter{k}.txt", "text": text},
            )
        )
    return out


def generated_source(n: int, rng: random.Random, notes: int, documents: int) -> dict[str, Any]:
    """The source the service would hold after the case's events (apply_event), built directly."""
    source: dict[str, Any] | None = None
    for event in generated_events(n, rng, notes, documents):
        source = mappings.apply_event(source, event) or source
    assert source is not None
    return source


def bulk_load(path: Path, args: argparse.Namespace) -> dict[str, float]:
    """Build ``args.cases`` cases into a fresh embedded index at ``path``; return the figures.

    ``index_seconds`` is the time spent in the engine (document building, ``put_source`` and the
    bulk commits); the rest of the wall time is generating the cases and applying their events.
    """
    engine = TantivyEngine(path, heap_bytes=256 * 1024 * 1024)
    rng = random.Random(7)
    started, last_report, source_bytes, in_engine = now(), now(), 0, 0.0
    for n in range(1, args.cases + 1):
        source = generated_source(n, rng, args.notes, args.documents)
        source_bytes += len(str(source))
        t = now()
        engine.put_source(source)
        if n % args.batch == 0:
            engine.commit()
        in_engine += now() - t
        if now() - last_report > 5:
            last_report = now()
            rate = n / (now() - started)
            print(
                f"\r  indexed {n}/{args.cases} cases, {rate:.0f} cases/s", end="", file=sys.stderr, flush=True
            )
    t = now()
    engine.commit()
    in_engine += now() - t
    seconds = now() - started
    engine.close()
    print(file=sys.stderr)
    return {
        "cases": args.cases,
        "seconds": seconds,
        "rate": args.cases / seconds,
        "index_seconds": in_engine,
        "index_rate": args.cases / in_engine,
        "source_mb": source_bytes / 1e6,
    }


def timed_searches(
    client: Client, kind: str, rng: random.Random, count: int, latencies: list[float], errors: list[str]
) -> None:
    cursor = None
    for _ in range(count):
        word = query_word(rng)
        params: dict[str, Any] = {"q": word}
        if kind == "free text" and rng.random() < 0.5:
            params["q"] = f"{word} {query_word(rng)}"
        elif kind == "filtered":
            params["q"] = f"{word} type:{rng.choice(TYPES)} status:open priority:>=high"
        elif kind == "faceted":
            params["facets"] = "true"
        elif kind == "deep pages":
            params = {"q": "*", "sort": "newest", "limit": 50, **({"cursor": cursor} if cursor else {})}
        started = now()
        response = client.get("/api/v1/search", params=params, timeout=30)
        latencies.append((now() - started) * 1000)
        if response.status_code != 200:
            errors.append(f"{kind}: HTTP {response.status_code}")
        elif kind == "deep pages":
            cursor = response.json()["next_cursor"]


def run_kind(url: str, kind: str, clients: int, queries: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    sessions = [Client(url) for _ in range(clients)]
    threads = [
        threading.Thread(
            target=timed_searches,
            args=(sessions[i], kind, random.Random(i), max(1, queries // clients), latencies, errors),
        )
        for i in range(clients)
    ]
    started = now()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = now() - started
    return {
        "kind": kind,
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "mean": statistics.fmean(latencies) if latencies else math.nan,
        "errors": len(errors),
    }


def rebuild(url: str, amqp_uri: str, batch: int) -> dict[str, Any]:
    principal = Principal(user_id="bench", roles=("admin",))
    stop = threading.Event()
    during: list[float] = []
    errors: list[str] = []

    def searcher() -> None:
        client, rng = Client(url), random.Random(99)
        while not stop.is_set():
            timed_searches(client, "free text", rng, 1, during, errors)

    thread = threading.Thread(target=searcher)
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=60, context_data=principal.context_data()) as rpc:
        thread.start()
        rpc.search.reindex(batch)
        while True:
            state = rpc.search.status()["rebuild"]
            if not state["running"]:
                break
            time.sleep(0.5)
            print(f"\r  rebuild {state['copied']}/{state['total']}", end="", file=sys.stderr, flush=True)
        stop.set()
        thread.join()
        print(file=sys.stderr)
        return {
            **state,
            "searches": len(during),
            "p50": pct(during, 50),
            "p99": pct(during, 99),
            "errors": len(errors),
        }


def creation_to_searchable(url: str, amqp_uri: str, count: int) -> dict[str, Any]:
    client = Client(url)
    principal = Principal(user_id="bench", roles=("auditor",))
    waits: list[float] = []
    errors = 0
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=30, context_data=principal.context_data()) as rpc:
        for n in range(count):
            body = {"type": "complaint", "title": f"bench searchable {n} {uuid.uuid4().hex[:8]}"}
            response = client.post("/api/v1/cases", json=body)
            created = now()
            if response.status_code != 201:
                errors += 1
                continue
            case_id = response.json()["id"]
            while now() - created < 10:
                if rpc.search.index_entries([case_id])[0]["copies"]:
                    waits.append((now() - created) * 1000)
                    break
                time.sleep(0.005)
            else:
                errors += 1
    return {"cases": count, "p50": pct(waits, 50), "p99": pct(waits, 99), "errors": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="generated cases to load")
    parser.add_argument("--notes", type=int, default=2, help="notes per case")
    parser.add_argument("--documents", type=int, default=1, help="documents (extracted text) per case")
    parser.add_argument("--batch", type=int, default=10_000, help="cases per bulk commit")
    parser.add_argument("--queries", type=int, default=400, help="searches of each kind")
    parser.add_argument("--clients", type=int, default=4, help="concurrent search clients")
    parser.add_argument("--created", type=int, default=200, help="cases opened for creation -> searchable")
    parser.add_argument(
        "--run-dir", help="keep the suite and its index here (default: a temporary directory)"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="casework-bench-search-") as tmp:
        run_dir = Path(args.run_dir or tmp).resolve()
        print(
            f"1. bulk-loading {args.cases} cases ({args.notes} notes, {args.documents} documents each)",
            file=sys.stderr,
        )
        load = bulk_load(run_dir / "data" / "search", args)
        print("2. starting the suite on that index", file=sys.stderr)
        with running_suite(run_dir) as suite:
            results = [
                run_kind(suite.gateway_url, kind, args.clients, args.queries)
                for kind in ("free text", "filtered", "faceted", "deep pages")
            ]
            print("3. rebuilding beside the live index", file=sys.stderr)
            rebuilt = rebuild(suite.gateway_url, suite.env["AMQP_URI"], batch=2000)
            print("4. creation -> searchable", file=sys.stderr)
            fresh = creation_to_searchable(suite.gateway_url, suite.env["AMQP_URI"], args.created)

    print(f"\nSearch benchmark: {args.cases} cases, {args.notes} notes + {args.documents} documents each")
    seconds, mb = load["seconds"], load["source_mb"]
    print(f"bulk indexing: {load['index_rate']:.0f} cases/s in the engine ({load['index_seconds']:.1f} s)")
    print(
        f"  with generation and event application: {load['rate']:.0f} cases/s ({seconds:.1f} s, {mb:.0f} MB)"
    )
    print(f"\nsearch through the gateway, {args.clients} clients:")
    print("| query | requests | req/s | p50 ms | p99 ms | mean ms | errors |\n|---|---|---|---|---|---|---|")
    for r in results:
        cells = [r["kind"], r["requests"], f"{r['rps']:.1f}", f"{r['p50']:.1f}", f"{r['p99']:.1f}"]
        print("| " + " | ".join(map(str, [*cells, f"{r['mean']:.1f}", r["errors"]])) + " |")
    print(
        f"\nrebuild: {rebuilt['copied']} cases in {rebuilt['seconds']:.1f} s "
        f"({rebuilt['copied'] / max(rebuilt['seconds'], 1e-9):.0f} cases/s), error: {rebuilt['error']}; "
        f"{rebuilt['searches']} searches meanwhile, p50 {rebuilt['p50']:.1f} / p99 {rebuilt['p99']:.1f} ms, "
        f"{rebuilt['errors']} errors"
    )
    print(
        f"creation -> searchable ({fresh['cases']} cases, one at a time): "
        f"p50 {fresh['p50']:.1f} ms, p99 {fresh['p99']:.1f} ms, {fresh['errors']} errors"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
