"""A small TCP fault proxy for tests: pass, latency, blackhole and reset.

Placed between services and the broker or the database, it runs as its own process
(``python -m casekit.testing.proxy --target HOST:PORT``; asyncio, so it stays out of the
tests' eventlet hub) and is steered over a control port, one command a line:

- ``pass``: forward bytes as they come;
- ``latency MS``: hold every chunk ``MS`` milliseconds in each direction (order kept);
- ``blackhole``: accept and read, but deliver nothing either way and propagate no close
  (no FIN, no RST: a half-open network). Held bytes and closes are delivered when the
  mode returns to ``pass``, as TCP would after a partition heals;
- ``reset``: abort every open connection with an RST (one shot; the mode is unchanged);
- ``refuse``: reset every new connection at once (existing ones are untouched);
- ``stats``: a JSON line with counters.

``FaultProxy`` starts the process and sends the commands.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

CHUNK = 65536


@dataclass(eq=False)
class Link:
    """One client connection and its connection to the target."""

    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    held: dict[str, list[bytes | None]] = field(default_factory=lambda: {"up": [], "down": []})
    closed: bool = False


class Proxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = "pass"
        self.latency = 0.0
        self.links: set[Link] = set()
        self.stats: dict[str, int] = {
            "accepted": 0,
            "refused": 0,
            "reset": 0,
            "closed_by_client": 0,
            "closed_by_server": 0,
            "closed_by_client_in_blackhole": 0,
            "closed_by_server_in_blackhole": 0,
            "bytes_up": 0,
            "bytes_down": 0,
        }

    # --- connections ------------------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "refuse":
            self.stats["refused"] += 1
            abort(writer)
            return
        try:
            s_reader, s_writer = await asyncio.open_connection(*self.target)
        except OSError:
            abort(writer)
            return
        self.stats["accepted"] += 1
        link = Link(writer, s_writer)
        self.links.add(link)
        await asyncio.gather(
            self.pump(link, reader, s_writer, "up"),
            self.pump(link, s_reader, writer, "down"),
            return_exceptions=True,
        )
        self.links.discard(link)
        if not link.closed:
            self.close(link)

    async def pump(
        self, link: Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()
        sender = asyncio.create_task(self.send(link, queue, writer, direction))
        try:
            while not link.closed:
                try:
                    data = await reader.read(CHUNK)
                except (ConnectionError, OSError):
                    data = b""
                if not data:
                    side = "client" if direction == "up" else "server"
                    self.stats[f"closed_by_{side}"] += 1
                    if self.mode == "blackhole":
                        self.stats[f"closed_by_{side}_in_blackhole"] += 1
                    await queue.put((time.monotonic() + self.latency, None))
                    return
                self.stats[f"bytes_{direction}"] += len(data)
                await queue.put((time.monotonic() + self.latency, data))
        finally:
            await sender

    async def send(
        self, link: Link, queue: asyncio.Queue, writer: asyncio.StreamWriter, direction: str
    ) -> None:
        while True:
            due, data = await queue.get()
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            while self.mode == "blackhole" and not link.closed:
                await asyncio.sleep(0.05)  # hold it: nothing gets through, nothing is closed
            if link.closed:
                return
            if data is None:
                with contextlib.suppress(OSError, RuntimeError):
                    writer.write_eof()
                    await writer.drain()
                return
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                self.close(link)
                return

    def close(self, link: Link) -> None:
        link.closed = True
        for w in (link.client, link.server):
            w.close()

    def reset_all(self) -> int:
        links = list(self.links)
        for link in links:
            link.closed = True
            abort(link.client)
            abort(link.server)
        self.stats["reset"] += len(links)
        return len(links)

    # --- control ----------------------------------------------------------------------------

    def command(self, line: str) -> dict[str, Any]:
        words = line.split()
        if not words:
            return {"error": "empty command"}
        verb = words[0]
        if verb in ("pass", "blackhole", "refuse"):
            self.mode = verb
            if verb == "pass":
                self.latency = 0.0
        elif verb == "latency":
            self.mode, self.latency = "pass", float(words[1]) / 1000.0
        elif verb == "reset":
            return {"reset": self.reset_all()}
        elif verb != "stats":
            return {"error": f"unknown command {verb!r}"}
        return {"mode": self.mode, "latency_ms": self.latency * 1000, "open": len(self.links), **self.stats}

    async def control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write((json.dumps(self.command(line.decode().strip())) + "\n").encode())
            await writer.drain()
        writer.close()


def abort(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0), not a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def serve(listen_port: int, control_port: int, target: str) -> None:
    host, port = target.rsplit(":", 1)
    proxy = Proxy(host, int(port))
    data = await asyncio.start_server(proxy.handle, "127.0.0.1", listen_port)
    ctl = await asyncio.start_server(proxy.control, "127.0.0.1", control_port)
    print("ready", flush=True)
    async with data, ctl:
        await asyncio.gather(data.serve_forever(), ctl.serve_forever())


class FaultProxy:
    """Starts ``python -m casekit.testing.proxy`` in front of ``target`` and steers it."""

    def __init__(self, target: str, python: str = sys.executable) -> None:
        from casekit.testing.suite import free_port

        self.target = target
        self.port, self.control_port = free_port(), free_port()
        self.python = python
        self.proc: subprocess.Popen | None = None
        self.ctl: socket.socket | None = None

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self.proc = subprocess.Popen(
            [
                self.python,
                "-m",
                "casekit.testing.proxy",
                "--listen",
                str(self.port),
                "--control",
                str(self.control_port),
                "--target",
                self.target,
            ],
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the fault proxy did not start")
        self.ctl = socket.create_connection(("127.0.0.1", self.control_port), timeout=10)
        return self

    def send(self, command: str) -> dict[str, Any]:
        assert self.ctl is not None, "start() first"
        self.ctl.sendall(command.encode() + b"\n")
        line = b""
        while not line.endswith(b"\n"):
            chunk = self.ctl.recv(4096)
            if not chunk:
                raise ConnectionError("the fault proxy went away")
            line += chunk
        return json.loads(line)

    def passthrough(self) -> dict[str, Any]:
        return self.send("pass")

    def latency(self, ms: float) -> dict[str, Any]:
        return self.send(f"latency {ms}")

    def blackhole(self) -> dict[str, Any]:
        return self.send("blackhole")

    def refuse(self) -> dict[str, Any]:
        return self.send("refuse")

    def reset(self) -> dict[str, Any]:
        return self.send("reset")

    def stats(self) -> dict[str, Any]:
        return self.send("stats")

    def stop(self) -> None:
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--target", required=True, help="HOST:PORT")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.listen, args.control, args.target))


if __name__ == "__main__":
    main()
