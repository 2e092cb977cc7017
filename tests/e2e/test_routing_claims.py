"""Claim next through the gateway: 50 agents, one queue, every item claimed exactly once.

The work items are seeded by SQL into the suite's routing database (10,000 cases would take
minutes to open through the API); every claim goes through HTTP, the gateway and RPC. The
PR-tier run uses 1,000 items; the full 10,000 is in the chaos tier.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest
import requests
from sqlalchemy.orm import sessionmaker

from casekit.db import make_engine, transaction
from casekit.launcher import Suite
from casekit.testing.suite import Client
from gateway.users import create_user
from tests.e2e.conftest import PASSWORD, eventually

pytestmark = pytest.mark.e2e

AGENTS = 50
SEED = """
INSERT INTO work_items (case_id, queue, reference, title, priority, base_priority, status, case_version,
                        case_type, case_created_at, queued_at)
SELECT md5(%(tag)s || g)::uuid::text, %(queue)s, 'E2E-' || g, 'claim test ' || g, 1 + g %% 4, 1 + g %% 4,
       'queued', 1, 'complaint', now() - g * interval '1 minute', now()
FROM generate_series(1, %(n)s) AS g
"""


def make_agents(suite: Suite, admin: Client, queue: str, count: int, capacity: int) -> list[tuple[str, str]]:
    """``count`` agent users (id, token), members of ``queue`` with room for ``capacity`` cases."""
    sessions = sessionmaker(
        bind=make_engine(suite.env["GATEWAY_DB_URL"], pool_size=1), expire_on_commit=False
    )
    tag = uuid.uuid4().hex[:6]
    with transaction(sessions) as session:
        users = [
            create_user(session, username=f"claimer-{tag}-{i}", password=PASSWORD, roles=["agent"]).id
            for i in range(count)
        ]
    out = []
    for i, user_id in enumerate(users):
        put = admin.request("PUT", f"/api/v1/queues/{queue}/members/{user_id}", json={"role": "agent"})
        assert put.status_code == 200, put.text
        put = admin.request("PUT", f"/api/v1/agents/{user_id}", json={"capacity": capacity})
        assert put.status_code == 200 and put.json()["capacity"] == capacity, put.text
        login = requests.post(
            f"{suite.gateway_url}/api/v1/auth/token",
            json={"username": f"claimer-{tag}-{i}", "password": PASSWORD},
            timeout=30,
        )
        assert login.status_code == 200, login.text
        out.append((user_id, login.json()["access_token"]))
    return out


def new_queue(admin: Client) -> str:
    queue = f"claims-{uuid.uuid4().hex[:8]}"
    assert admin.request("PUT", f"/api/v1/queues/{queue}", json={"title": "Claims e2e"}).status_code == 200
    return queue


def claim_all(base: str, agents: list[tuple[str, str]], queue: str) -> tuple[dict[str, list[str]], list[str]]:
    """Every agent claims until the queue answers 204; returns what each got, and any errors."""
    claimed: dict[str, list[str]] = {user_id: [] for user_id, _ in agents}
    errors: list[str] = []
    start = threading.Barrier(len(agents))

    def work(user_id: str, token: str) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        start.wait()
        while True:
            response = http.post(f"{base}/api/v1/work/next", json={"queue": queue}, timeout=30)
            if response.status_code == 204:
                return
            if response.status_code != 200:
                errors.append(f"{response.status_code} {response.text[:200]}")
                if len(errors) > 20:
                    return
                time.sleep(0.2)
                continue
            body = response.json()
            assert body["assigned_to"] == user_id
            claimed[user_id].append(body["case_id"])

    threads = [threading.Thread(target=work, args=agent) for agent in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return claimed, errors


def run_claims(suite: Suite, admin: Client, app_sql: Callable[..., list[tuple]], items: int) -> None:
    queue = new_queue(admin)
    app_sql("routing", SEED, {"tag": uuid.uuid4().hex, "queue": queue, "n": items})
    agents = make_agents(suite, admin, queue, AGENTS, capacity=items)
    claimed, errors = claim_all(suite.gateway_url, agents, queue)

    assert errors == []
    every = [case_id for ids in claimed.values() for case_id in ids]
    assert len(every) == items, "none lost"
    assert len(set(every)) == items, "none doubled"
    assert sum(1 for ids in claimed.values() if ids) > AGENTS // 2, "the work was shared out"
    assert app_sql(
        "routing",
        "SELECT status, count(*), count(DISTINCT assigned_to) > 1 FROM work_items"
        " WHERE queue = %s GROUP BY status",
        (queue,),
    ) == [("assigned", items, True)]
    [(claims, distinct)] = app_sql(
        "routing",
        "SELECT count(*), count(DISTINCT case_id) FROM assignment_history"
        " WHERE queue = %s AND action = 'claim'",
        (queue,),
    )
    assert claims == distinct == items, "the history records each claim exactly once"
    user_id, token = agents[0]
    mine = requests.get(
        f"{suite.gateway_url}/api/v1/me/work",
        params={"limit": 200},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    assert {i["case_id"] for i in mine["items"]} <= set(claimed[user_id])
    assert len(mine["items"]) == min(200, len(claimed[user_id]))


def test_fifty_agents_claim_a_thousand_items_each_exactly_once(
    suite: Suite, admin: Client, app_sql: Callable[..., list[tuple]]
) -> None:
    run_claims(suite, admin, app_sql, 1000)


@pytest.mark.chaos
def test_fifty_agents_claim_ten_thousand_items_each_exactly_once(
    suite: Suite, admin: Client, app_sql: Callable[..., list[tuple]]
) -> None:
    run_claims(suite, admin, app_sql, 10_000)


def test_expired_leases_return_items_to_the_queue_and_others_claim_them(
    suite: Suite, admin: Client, app_sql: Callable[..., list[tuple]]
) -> None:
    queue = new_queue(admin)
    app_sql("routing", SEED, {"tag": uuid.uuid4().hex, "queue": queue, "n": 3})
    (ann, ann_token), (bob, bob_token) = make_agents(suite, admin, queue, 2, capacity=10)
    as_ann = {"Authorization": f"Bearer {ann_token}"}
    as_bob = {"Authorization": f"Bearer {bob_token}"}
    base = suite.gateway_url + "/api/v1"

    got = [
        requests.post(
            f"{base}/work/next", json={"queue": queue, "lease_seconds": 1}, headers=as_ann, timeout=30
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in got] == [200, 200, 200]
    ids = [r.json()["case_id"] for r in got]
    assert (
        requests.post(f"{base}/work/next", json={"queue": queue}, headers=as_bob, timeout=30).status_code
        == 204
    )
    renew = requests.post(
        f"{base}/cases/{ids[0]}/assignment/renew", json={"lease_seconds": 600}, headers=as_ann, timeout=30
    )
    assert renew.status_code == 200, renew.text
    bob_renews = requests.post(f"{base}/cases/{ids[1]}/assignment/renew", json={}, headers=as_bob, timeout=30)
    assert bob_renews.status_code == 403, "only the assignee renews"

    def returned() -> bool:
        rows = app_sql(
            "routing", "SELECT case_id FROM work_items WHERE queue = %s AND status = 'queued'", (queue,)
        )
        return {r[0] for r in rows} == set(ids[1:])

    assert eventually(returned, timeout=60)
    late = requests.post(f"{base}/cases/{ids[1]}/assignment/renew", json={}, headers=as_ann, timeout=30)
    assert late.status_code == 409, "an expired claim cannot be renewed"
    reclaimed = {
        requests.post(f"{base}/work/next", json={"queue": queue}, headers=as_bob, timeout=30).json()[
            "case_id"
        ]
        for _ in range(2)
    }
    assert reclaimed == set(ids[1:])
    history = admin.get(f"/api/v1/cases/{ids[1]}/routing").json()["assignments"]
    assert [(h["action"], h["assignee"], h["previous_assignee"]) for h in history] == [
        ("claim", ann, None),
        ("lease_expired", None, ann),
        ("claim", bob, None),
    ]
    assert app_sql(
        "routing",
        "SELECT count(*) FROM outbox WHERE type = 'case_unassigned' "
        "AND payload->'data'->>'reason' = 'lease_expired' AND payload->>'case_id' = ANY(%s)",
        (ids,),
    ) == [(2,)]
    still_ann = admin.get(f"/api/v1/queues/{queue}/overview").json()
    loads = {a["user_id"]: a["load_in_queue"] for a in still_ann["agents"]}
    assert (loads[ann], loads[bob]) == (1, 2)
