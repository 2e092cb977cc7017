"""Intake benchmark: cases opened through the gateway and counted once searchable; folder reads; memory.

By default it starts a fresh suite (``running_suite``) in a temporary directory so that figures are
reproducible; ``--url`` measures a running suite instead (``make run``; memory and CPU are read from
the pid files under ``--run-dir``). It reports and never asserts: the exit status is 0 whether the
budgets of ARCHITECTURE.md §8 are met or not.

Each client is a thread with its own HTTP session that opens cases (a unique title token each) and
records the POST's latency. A case counts as done only once it is searchable. By default
(``--watch rpc``) clients post back to back and one watcher thread asks the search service which
opened cases are in its committed index, in batches every 20 ms, recording creation -> searchable;
``--watch http`` instead has each client poll ``GET /api/v1/search?q=<reference>`` through the
gateway before opening its next case (a closed loop that also loads the suite with the polls).
Cases/s is done cases per second of wall time, including the drain of the last ones.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from nameko.standalone.rpc import ClusterRpcProxy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procstats import NCPU, cpu_delta, cpu_snapshot, memory, suite_pids  # noqa: E402

from casekit.launcher import SQL_DATABASES  # noqa: E402
from casekit.testing.suite import ADMIN, Client, running_suite  # noqa: E402

FIRST_POLL, MAX_POLL = 0.01, 0.1  # searchability polls: 10 ms after the 201, then x1.5 up to 100 ms
MAX_READS = 2_000_000
SHARED = ("postgres", "rabbitmq", "load generator", "other")  # CPU groups that are not suite processes
now = time.perf_counter


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


@dataclass
class Stats:
    clients: int = 0
    latency_ms: list[float] = field(default_factory=list)  # of the POST (intake) or the GET (reads)
    search_ms: list[float] = field(default_factory=list)  # creation -> searchable
    ids: list[str] = field(default_factory=list)  # of the cases done: searchable, or read in full
    errors: Counter = field(default_factory=Counter)
    attempts: int = 0
    polls: int = 0
    wall: float = math.nan
    cpu: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] += 1

    def take(self, limit: int) -> bool:
        with self.lock:
            self.attempts += 1
            return self.attempts <= limit

    @property
    def rate(self) -> float:
        return len(self.ids) / self.wall if self.wall > 0 else 0.0


# -- load ---------------------------------------------------------------------------------------------
class Watcher:
    """Notes when opened cases become searchable: one batched ``search.index_entries`` RPC every 20 ms.

    Polling each case through the gateway would load the system under test with requests of its
    own (about 3.5 searches per case here); a batch of up to 1000 ids costs one small call.
    """

    def __init__(self, amqp_uri: str, stats: Stats, timeout: float) -> None:
        self.amqp_uri, self.stats, self.timeout = amqp_uri, stats, timeout
        self.pending: dict[str, float] = {}
        self.lock, self.done = threading.Lock(), threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()

    def add(self, case_id: str, created: float) -> None:
        with self.lock:
            self.pending[case_id] = created

    def watch(self) -> None:
        context = {"user_id": "bench-watcher", "roles": "auditor"}
        with ClusterRpcProxy({"AMQP_URI": self.amqp_uri}, timeout=10, context_data=context) as rpc:
            while not (self.done.is_set() and not self.pending):
                with self.lock:
                    ids = list(self.pending)[:1000]
                asked = now()
                for entry in rpc.search.index_entries(ids) if ids else []:
                    if entry["copies"]:
                        with self.lock, self.stats.lock:
                            created = self.pending.pop(entry["case_id"])
                            self.stats.search_ms.append((asked - created) * 1000)
                            self.stats.ids.append(entry["case_id"])
                with self.lock:
                    late = [c for c, t in self.pending.items() if asked - t > self.timeout]
                    for case_id in late:
                        del self.pending[case_id]
                        self.stats.error(f"not searchable in {self.timeout:g} s")
                time.sleep(0.02)

    def finish(self) -> None:
        self.done.set()
        self.thread.join(self.timeout + 30)


class Bench:
    def __init__(
        self, args: argparse.Namespace, url: str, run_dir: Path, db_prefix: str, amqp_uri: str
    ) -> None:
        self.args, self.url, self.run_dir, self.amqp_uri = args, url, run_dir, amqp_uri
        self.databases = {f"{db_prefix}_{name}" for name in SQL_DATABASES}

    def run(
        self,
        loop: Callable[[Client, float], None],
        stats: Stats,
        seconds: float,
        after: Callable[[], None] | None = None,
    ) -> Stats:
        """``stats.clients`` threads, each with its own session, run ``loop(client, stop_at)``."""
        clients = [Client(self.url, self.args.username, self.args.password) for _ in range(stats.clients)]
        before, start = cpu_snapshot(self.run_dir, self.databases), now()
        threads = [threading.Thread(target=loop, args=(c, start + seconds), daemon=True) for c in clients]
        for t in threads:
            t.start()
        for t in threads:  # a client finishes its last case, bounded by the search and HTTP timeouts
            t.join(max(0.0, start + seconds + self.args.search_timeout + 60 - now()))
        if after is not None:
            after()
        stats.wall = now() - start
        stats.cpu = cpu_delta(before, cpu_snapshot(self.run_dir, self.databases), stats.wall)
        for c in clients:
            c.http.close()
        return stats

    def open_case(self, client: Client, stats: Stats) -> tuple[str, str, float] | None:
        token = "bx" + uuid.uuid4().hex[:14]  # a unique title token
        body = {
            "type": "complaint",
            "title": f"Benchmark complaint {token}",
            "priority": "normal",
            "customer": {"name": f"Bench {token}", "email": f"{token}@example.org"},
        }
        t0 = now()
        try:
            r = client.post("/api/v1/cases", json=body, headers={"Idempotency-Key": token}, timeout=30)
        except requests.RequestException as exc:
            stats.error(f"POST {type(exc).__name__}")
            return None
        created = now()
        if r.status_code != 201:
            stats.error(f"POST HTTP {r.status_code}")
            return None
        stats.latency_ms.append((created - t0) * 1000)
        return r.json()["id"], r.json()["reference"], created

    def wait_searchable(self, client: Client, stats: Stats, case_id: str, ref: str, created: float) -> None:
        """Poll the search for the case's reference (short, growing sleeps) until it is found or given up."""
        delay, polls = FIRST_POLL, 0
        while True:
            time.sleep(delay)
            polls, delay = polls + 1, min(delay * 1.5, MAX_POLL)
            try:
                r = client.get("/api/v1/search", params={"q": ref}, timeout=10)
                if r.status_code != 200:
                    stats.error(f"search HTTP {r.status_code}")
                found = r.status_code == 200 and any(i["case_id"] == case_id for i in r.json()["items"])
            except (requests.RequestException, ValueError, KeyError) as exc:
                stats.error(f"search {type(exc).__name__}")
                found = False
            if found:
                with stats.lock:
                    stats.search_ms.append((now() - created) * 1000)
                    stats.ids.append(case_id)
                    stats.polls += polls
                return
            if now() - created >= self.args.search_timeout:
                stats.error(f"not searchable in {self.args.search_timeout:g} s")
                return

    def intake(self, clients: int, seconds: float) -> Stats:
        stats = Stats(clients=clients)
        if self.args.watch == "rpc":
            watcher = Watcher(self.amqp_uri, stats, self.args.search_timeout)

            def post_only(client: Client, stop_at: float) -> None:
                while now() < stop_at and stats.take(self.args.max_cases):
                    case = self.open_case(client, stats)
                    if case is None:
                        time.sleep(0.05)  # do not spin on a failing suite
                    else:
                        watcher.add(case[0], case[2])

            return self.run(post_only, stats, seconds, after=watcher.finish)

        def loop(client: Client, stop_at: float) -> None:
            while now() < stop_at and stats.take(self.args.max_cases):
                case = self.open_case(client, stats)
                if case is None:
                    time.sleep(0.05)  # do not spin on a failing suite
                else:
                    self.wait_searchable(client, stats, *case)

        return self.run(loop, stats, seconds)

    def reads(self, ids: list[str], clients: int, seconds: float) -> Stats:
        stats = Stats(clients=clients)

        def loop(client: Client, stop_at: float) -> None:
            while now() < stop_at and stats.take(MAX_READS):
                t0 = now()
                try:
                    r = client.get(f"/api/v1/cases/{random.choice(ids)}", timeout=30)
                    stats.latency_ms.append((now() - t0) * 1000)
                    folder = r.json() if r.status_code == 200 else {}
                except (requests.RequestException, ValueError) as exc:
                    stats.error(f"GET {type(exc).__name__}")
                    time.sleep(0.05)
                    continue
                if r.status_code != 200:
                    stats.error(f"GET HTTP {r.status_code}")
                elif folder.get("missing"):
                    stats.error("folder parts missing")
                else:
                    stats.ids.append(folder["id"])

        return self.run(loop, stats, seconds)


# -- report -------------------------------------------------------------------------------------------
def cpu_text(cpu: dict[str, float], each: bool = False) -> str:
    """CPU in percent of one core: the suite's processes together (or each), then the shared groups."""
    if each:
        return ", ".join(f"{k} {v:.0f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]))
    suite = sum(v for k, v in cpu.items() if k not in SHARED)
    return ", ".join(f"{k} {v:.0f}" for k, v in [("suite", suite), *((k, cpu.get(k, 0.0)) for k in SHARED)])


def errors_text(errors: Counter) -> str:
    return ", ".join(f"{k}: {v}" for k, v in errors.most_common()) or "0"


def p50_99(values: list[float]) -> str:
    return f"{pct(values, 50):.1f} / {pct(values, 99):.1f}"


def verdict(measured: float, target: float, unit: str) -> str:
    """``target`` < 0 means "at least -target", else "at most target"."""
    if math.isnan(measured):
        return "not measured"
    miss = (-target - measured) if target < 0 else measured - target
    return "met" if miss <= 0 else f"missed by {miss:.4g} {unit} ({100 * miss / abs(target):.0f}%)"


def table(head: list[str], rows: list[list[str]], markdown: bool = False) -> None:
    if markdown:
        print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    for row in [head, *rows]:
        print("  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())


def report(levels: list[Stats], reads: Stats | None, mem: dict[str, tuple], args: argparse.Namespace) -> None:
    print("\nIntake: a case is done once GET /api/v1/search?q=<reference> finds it")
    head = ["clients", "done", "cases/s", "POST p50 / p99 ms", "searchable p50 / p99 ms", "polls", "errors"]
    cells = [
        [f"{s.clients}", f"{len(s.ids)}", f"{s.rate:.1f}", p50_99(s.latency_ms), p50_99(s.search_ms)]
        + [f"{s.polls / max(1, len(s.ids)):.2f}", errors_text(s.errors)]
        for s in levels
    ]
    table(head, cells)
    print(f"CPU, % of one core ({NCPU} cores; rabbitmq and other include other users of the machine):")
    for s in levels:
        print(f"  {s.clients:>3} clients: {cpu_text(s.cpu)}")
    if levels:
        print(f"  by process at {levels[-1].clients} clients: {cpu_text(levels[-1].cpu, each=True)}")
    r = reads or Stats(clients=args.read_clients)
    if reads:
        print(
            f"\nCase folder reads at {r.clients} clients: {r.rate:.1f}/s, p50 / p99 {p50_99(r.latency_ms)} ms"
        )
        print(f"  errors: {errors_text(r.errors)}\n  CPU by process: {cpu_text(r.cpu, each=True)}")
    for when, (rss, pss, n) in mem.items():
        print(f"Suite memory {when}: {rss:.0f} MB VmRSS summed over {n} processes ({pss:.0f} MB PSS)")
    at = next((s for s in levels if s.clients == 32), levels[-1] if levels else Stats())
    budgets = [
        (
            f"intake at {at.clients} clients",
            "≥ 300 cases/s",
            at.rate if levels else math.nan,
            -300,
            "cases/s",
        ),
        (f"intake POST p99 at {at.clients} clients", "≤ 100 ms", pct(at.latency_ms, 99), 100, "ms"),
        (f"creation → searchable p99 at {at.clients} clients", "≤ 1 s", pct(at.search_ms, 99), 1000, "ms"),
        (f"case folder read p50 at {r.clients} clients", "≤ 5 ms", pct(r.latency_ms, 50), 5, "ms"),
        (f"case folder read p99 at {r.clients} clients", "≤ 25 ms", pct(r.latency_ms, 99), 25, "ms"),
    ]
    budgets += [(f"suite memory {k} (VmRSS sum)", "≤ 1.5 GB", m[0], 1536, "MB") for k, m in mem.items()]
    rows = [[name, budget, f"{v:.1f} {unit}", verdict(v, t, unit)] for name, budget, v, t, unit in budgets]
    print("\nBudgets (ARCHITECTURE.md §8)")
    table(["budget", "target", "measured", "verdict"], rows)
    if args.markdown:
        table(head, cells, markdown=True)
        table(["Budget", "Target", "Measured", "Verdict"], rows, markdown=True)
        other = [s.cpu.get("other", 0.0) for s in [*levels, r] if s.cpu]
        print(
            f"\n_{args.seconds:g} s per level on {NCPU} cores shared with the load generator; other processes"
            f" used {sum(other) / max(1, len(other)):.0f}% of one core meanwhile._"
        )


def bench(args: argparse.Namespace, url: str, run_dir: Path, db_prefix: str, amqp_uri: str) -> None:
    b, mem, levels, reads = Bench(args, url, run_dir, db_prefix, amqp_uri), {}, [], None
    if suite_pids(run_dir):
        time.sleep(args.settle)
        mem["idle before load"] = memory(run_dir)
    else:
        print(f"no live pids under {run_dir}/pids: no memory or per-process CPU", file=sys.stderr)
    for clients in [int(c) for c in args.clients.split(",") if c.strip()]:
        print(f"{clients} clients: warm-up {args.warmup:g} s, then {args.seconds:g} s", file=sys.stderr)
        b.intake(clients, args.warmup)
        levels.append(b.intake(clients, args.seconds))
    ids = [i for s in levels for i in s.ids]
    if ids and args.read_clients:
        print(f"case folder reads: {args.read_clients} clients, {args.seconds:g} s", file=sys.stderr)
        b.reads(ids, args.read_clients, min(args.warmup, 2))
        reads = b.reads(ids, args.read_clients, args.seconds)
    if suite_pids(run_dir):
        time.sleep(args.settle)
        mem["idle after load"] = memory(run_dir)
    report(levels, reads, mem, args)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = p.add_argument
    add("--seconds", type=float, default=15, help="measured time per level (default 15)")
    add("--warmup", type=float, default=3, help="unmeasured time before each level (default 3)")
    add("--clients", default="1,8,32", help="intake concurrency levels (default 1,8,32)")
    add("--read-clients", type=int, default=16, help="case folder readers (default 16; 0 skips)")
    add("--max-cases", type=int, default=100_000, help="bound per level (default 100000)")
    add("--search-timeout", type=float, default=10, help="give a case up after N s (default 10)")
    add("--settle", type=float, default=5, help="idle seconds before measuring memory (default 5)")
    add("--url", help="measure a running suite, e.g. http://127.0.0.1:8000 (default: start a fresh one)")
    add("--username", default=os.environ.get("CASEWORK_USER", ADMIN[0]))
    password = "default $CASEWORK_PASSWORD, else the demo admin's (--url) or the test admin's"
    add("--password", default=os.environ.get("CASEWORK_PASSWORD"), help=password)
    add("--run-dir", help="with --url: the suite's run dir (default run/); else keep the suite's logs here")
    add("--db-prefix", default="casework", help="with --url: its databases' prefix (default casework)")
    add("--env", action="append", default=[], metavar="K=V", help="extra environment for a started suite")
    add("--markdown", action="store_true", help="also print Markdown tables for the README")
    watch = "how searchability is seen: rpc (default; clients post back to back and one watcher asks the"
    watch += " search service in batches) or http (each client polls GET /search for its case, then posts)"
    add("--watch", choices=["rpc", "http"], default="rpc", help=watch)
    args = p.parse_args(argv)
    if args.url:
        args.password = args.password or "casework-demo"
        amqp_uri = os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
        bench(
            args, args.url.rstrip("/"), Path(args.run_dir or ROOT / "run").resolve(), args.db_prefix, amqp_uri
        )
        return 0
    args.password = args.password or ADMIN[1]
    with tempfile.TemporaryDirectory(prefix="casework-bench-") as tmp:
        run_dir = Path(args.run_dir).resolve() if args.run_dir else Path(tmp)
        print(f"starting a fresh suite in {run_dir}", file=sys.stderr)
        with running_suite(run_dir, extra_env=dict(kv.split("=", 1) for kv in args.env)) as suite:
            db_prefix = suite.env["CASES_DB_URL"].rsplit("/", 1)[1].removesuffix("_cases")
            bench(args, suite.gateway_url, run_dir, db_prefix, suite.env["AMQP_URI"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
