"""Real HTTP servers on 127.0.0.1 for the delivery tests: well-behaved ones and faulty ones.

Each server is a listening socket served by a daemon thread; every accepted connection
is counted and handled by one of the behaviours below, so a test can assert both what
the sender posted and that a server saw no connection at all. Raw sockets rather than
``http.server``: the faults (silence, dripping, a cut-off answer) are about bytes.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

Behaviour = Callable[[socket.socket, "LoopbackServer"], None]


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LoopbackServer:
    behaviour: Behaviour
    tls: ssl.SSLContext | None = None  # serve https with this server-side context
    listener: socket.socket = field(init=False)
    connections: int = 0
    requests: list[ReceivedRequest] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/v1/usage"

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        connection.settimeout(10)
        try:
            if self.tls is not None:
                # A client that rejects the certificate ends here, with an SSLError.
                connection = self.tls.wrap_socket(connection, server_side=True)
            self.behaviour(connection, self)
        except OSError:
            pass
        finally:
            connection.close()

    def record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()
        self._thread.join(2)


@contextmanager
def serving(behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> Iterator[LoopbackServer]:
    server = LoopbackServer(behaviour, tls)
    try:
        yield server
    finally:
        server.stop()


def refused_port() -> int:
    """A port nothing listens on: bound, then closed, so connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- behaviours -------------------------------------------------------------------------------


def read_request(connection: socket.socket) -> ReceivedRequest:
    """One HTTP/1.1 request with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the client closed before the end of the headers")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    method, path, _ = request_line.split(" ", 2)
    return ReceivedRequest(method=method, path=path, headers=headers, body=body)


REASONS = {200: "OK", 204: "No Content", 302: "Found", 413: "Payload Too Large",
           429: "Too Many Requests", 500: "Internal Server Error"}


def answering(status: int, extra_headers: str = "", delay: float = 0.0) -> Behaviour:
    """Reads the request, records it, answers ``status`` (after ``delay`` s) and closes."""

    def behaviour(connection: socket.socket, server: LoopbackServer) -> None:
        server.record(read_request(connection))
        time.sleep(delay)
        body = b"" if status == 204 else b'{"ok":true}'
        head = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\n{extra_headers}"
        if status != 204:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        connection.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)

    return behaviour


def redirecting_to(location: str) -> Behaviour:
    return answering(302, f"Location: {location}\r\n")


def never_answering(connection: socket.socket, server: LoopbackServer) -> None:
    """Accepts, reads the request, then says nothing until the test is over."""
    server.record(read_request(connection))
    server.stopping.wait(30)


def dripping(connection: socket.socket, server: LoopbackServer) -> None:
    """Answers one byte a second, forever: no per-phase timeout of 5 s ever trips."""
    server.record(read_request(connection))
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000
    for byte in answer:
        if server.stopping.wait(1.0):
            return
        connection.sendall(bytes([byte]))


def closing_mid_response(connection: socket.socket, server: LoopbackServer) -> None:
    """A 200 status line and half the promised body, then the connection is cut."""
    server.record(read_request(connection))
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b'{"ok":')
    time.sleep(0.05)
    connection.shutdown(socket.SHUT_RDWR)
