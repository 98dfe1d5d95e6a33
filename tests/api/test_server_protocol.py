"""The server protocol switches Nagle's algorithm off on every TCP connection, also on the
connections of `serve --workers N`, whose listening socket reaches the worker processes with
proto 0 (asyncio then leaves TCP_NODELAY off, and each small answer written as headers, then
body waited about 40 ms for the client's delayed ACK)."""

from __future__ import annotations

import socket
from typing import Any

from sentiment_service.api.server_protocol import disable_nagle


class _Transport:
    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sock if name == "socket" else default


def test_a_connection_accepted_on_a_proto_0_listener_gets_tcp_nodelay() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:  # as uvicorn binds it
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()) as _client:
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.proto == 0
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
                disable_nagle(_Transport(accepted))  # type: ignore[arg-type]
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_non_tcp_transports_are_left_alone() -> None:
    disable_nagle(_Transport(None))  # type: ignore[arg-type]
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        disable_nagle(_Transport(left))  # type: ignore[arg-type]  # no TCP option to set
