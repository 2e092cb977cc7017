"""An RPC caller to kill mid-call (T08): ``python -m casekit.testing.caller --user-id U --tag T``.

Sends ``--count`` ``cases.create_case`` calls at once (each with its own idempotency key,
written to ``--keys`` first), prints ``sent`` and waits for the replies; a test SIGKILLs it
while they are in flight. The callee must still run each request exactly once, and a retry
with the same key (from another caller) must get the case the first call made.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid

from nameko.standalone.rpc import ClusterRpcProxy

from casekit.context import Principal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user-id", required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--keys", required=True, help="JSON lines {key, title} are written here first")
    args = parser.parse_args(argv)
    principal = Principal(user_id=args.user_id, roles=("admin",))
    ops = [{"key": str(uuid.uuid4()), "title": f"{args.tag} case {i}"} for i in range(args.count)]
    with open(args.keys, "w") as out:
        out.writelines(json.dumps(op) + "\n" for op in ops)
    config = {"AMQP_URI": os.environ["AMQP_URI"]}
    with ClusterRpcProxy(config, timeout=60, context_data=principal.context_data()) as rpc:
        pending = [
            rpc.cases.create_case.call_async({"type": "complaint", "title": op["title"]}, op["key"])
            for op in ops
        ]
        print("sent", flush=True)
        for reply in pending:
            reply.result()
        print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
