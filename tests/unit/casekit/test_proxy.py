"""The TCP fault proxy: pass, latency, blackhole (half-open, held bytes), reset and refuse."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from casekit.testing.proxy import FaultProxy
from casekit.testing.waiting import eventually


class EchoServer:
    """Echoes every chunk; records the connections whose client side closed."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.eofs = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.echo, args=(conn,), daemon=True).start()

    def echo(self, conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    self.eofs += 1
                    return
                conn.sendall(data)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.sock.close()


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[FaultProxy]:
    with FaultProxy(f"127.0.0.1:{echo.port}") as running:
        yield running


def connect(proxy: FaultProxy, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)


def roundtrip(conn: socket.socket, data: bytes = b"ping") -> bytes:
    conn.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = conn.recv(4096)
        if not chunk:
            break
        got += chunk
    return got


def test_pass_forwards_both_ways(proxy: FaultProxy) -> None:
    with connect(proxy) as conn:
        assert roundtrip(conn, b"hello") == b"hello"
    assert proxy.stats()["accepted"] == 1


def test_latency_holds_every_chunk_in_each_direction(proxy: FaultProxy) -> None:
    proxy.latency(150)
    with connect(proxy) as conn:
        started = time.monotonic()
        assert roundtrip(conn) == b"ping"
        assert time.monotonic() - started >= 0.3  # 150 ms up + 150 ms down, at least
    assert proxy.passthrough()["latency_ms"] == 0


def test_blackhole_delivers_nothing_closes_nothing_and_heals(proxy: FaultProxy) -> None:
    with connect(proxy, timeout=0.5) as conn:
        assert roundtrip(conn) == b"ping"
        proxy.blackhole()
        conn.sendall(b"held")
        with pytest.raises(TimeoutError):
            conn.recv(4096)  # no reply, and no FIN or RST either
        proxy.passthrough()
        conn.settimeout(5)
        assert conn.recv(4096) == b"held"  # delivered after the heal


def test_a_close_during_a_blackhole_reaches_the_other_side_only_after_the_heal(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    conn = connect(proxy)
    assert roundtrip(conn) == b"ping"
    proxy.blackhole()
    conn.close()
    eventually(lambda: proxy.stats()["closed_by_client_in_blackhole"] == 1, timeout=5)
    assert echo.eofs == 0  # the server still believes the connection is open: half-open
    proxy.passthrough()
    eventually(lambda: echo.eofs == 1, timeout=5)


RESET = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


def test_reset_aborts_open_connections_with_an_rst(proxy: FaultProxy) -> None:
    with connect(proxy) as conn:
        assert roundtrip(conn) == b"ping"
        assert proxy.reset()["reset"] == 1
        with pytest.raises(RESET):  # an RST, not an orderly end of stream
            for _ in range(3):
                conn.sendall(b"x")
                conn.recv(4096)
    with connect(proxy) as conn:  # new connections pass again
        assert roundtrip(conn) == b"ping"


def test_refuse_resets_new_connections(proxy: FaultProxy) -> None:
    proxy.refuse()
    with pytest.raises(RESET), connect(proxy) as conn:
        for _ in range(3):
            conn.sendall(b"x")
            conn.recv(4096)
    assert proxy.stats()["refused"] >= 1
