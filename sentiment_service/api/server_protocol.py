"""An HTTP/1.1 server protocol that cuts off clients that are too slow to send their request.

uvicorn times out idle keep-alive connections, but not a client that connects and sends
nothing, half a request line, half the headers or half the body: each such client holds a
connection (and, for a stalled body, a request task) for as long as it likes (slowloris).
This subclass of uvicorn's h11 protocol gives every request a read deadline: from the
connection (or the first byte of the next request on a kept-alive connection) until the last
byte of its body. When the deadline passes before the request is in, the client gets a 408
(unless a response already started) and the connection is closed; a request task waiting for
its body then sees a disconnect.
"""

from __future__ import annotations

import asyncio
import socket
from functools import cache
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from sentiment_service.settings import Settings

REQUEST_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 29\r\n"
    b"connection: close\r\n\r\n"
    b"request not received in time\n"
)


def disable_nagle(transport: asyncio.BaseTransport) -> None:
    """Send small writes at once (TCP_NODELAY) on a TCP connection.

    asyncio does this itself only for sockets whose `proto` says TCP. The listening socket
    that uvicorn hands to its worker processes (`serve --workers N`) arrives there with proto
    0, so their connections kept Nagle's algorithm: a response written as headers, then body
    waited for the client's delayed ACK, about 40 ms, on every small answer.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class ReadTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for receiving each whole request."""

    read_timeout: float = 10.0
    _read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        disable_nagle(transport)
        self._arm_read_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._request_in():
            self._disarm_read_deadline()
        else:
            self._arm_read_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start the next (pipelined) request
        if not self._request_in():
            self._arm_read_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_read_deadline()
        super().connection_lost(exc)

    def _request_in(self) -> bool:
        """Whether the client has nothing more to send for now: its request is complete, or
        it waits idle between requests (uvicorn's keep-alive timeout covers that)."""
        state = self.conn.their_state
        if state is h11.IDLE:
            return not self.conn.trailing_data[0] and self.timeout_keep_alive_task is not None
        return state is not h11.SEND_BODY

    def _arm_read_deadline(self) -> None:
        if self._read_deadline is None:
            self._read_deadline = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _disarm_read_deadline(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        self.logger.warning("Request not received within %ss; closing.", self.read_timeout)
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            self.transport.write(REQUEST_TIMEOUT_RESPONSE)
        self.transport.close()


def protocol_with_read_timeout(seconds: float) -> type[ReadTimeoutH11Protocol]:
    """The protocol class to pass to uvicorn as `http=`, with a request read deadline."""
    return type("ReadTimeoutH11Protocol", (ReadTimeoutH11Protocol,), {"read_timeout": seconds})


@cache
def _settings_read_timeout() -> float:
    return Settings().request_read_timeout_seconds


class SettingsReadTimeoutH11Protocol(ReadTimeoutH11Protocol):
    """The protocol with the read deadline of this process's settings. uvicorn's worker
    processes (`serve --workers N`) import their protocol by name (SETTINGS_PROTOCOL), and a
    class made at run time by `protocol_with_read_timeout` has none."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = _settings_read_timeout()


SETTINGS_PROTOCOL = f"{__name__}:{SettingsReadTimeoutH11Protocol.__name__}"
