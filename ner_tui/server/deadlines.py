"""Read deadlines for slow clients, which uvicorn does not have (only a keep-alive timeout).

A connection must deliver each request's headers within ``header_timeout`` seconds (counted
from when it connects, or from the first byte of a later request on a kept-alive connection)
and then the body within ``body_timeout`` seconds of the headers; otherwise the connection is
closed. A client sending a byte at a time can no longer hold a connection (and a share of the
event loop) for ever; an app waiting for such a body sees the client disconnect.

Implemented as a subclass of uvicorn's h11 protocol (h11 is a dependency of uvicorn; the
optional httptools parser is not used), given to ``uvicorn.run(http=...)``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DeadlineCounts", "protocol_with_deadlines"]


class DeadlineCounts:
    """How many connections each deadline closed (for /metrics)."""

    header = 0
    body = 0


def protocol_with_deadlines(header_timeout: float, body_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with the two read deadlines."""

    class DeadlineH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _phase: str | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm("header")

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._follow()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._follow()

        def _follow(self) -> None:
            """Arm the deadline of the phase the client is in, or none."""
            state = self.conn.their_state
            if state is h11.IDLE:
                if self.conn.trailing_data[0] or self._phase == "header":
                    self._arm("header")  # part of a request's headers is in
                else:
                    self._disarm()  # between requests: uvicorn's keep-alive timeout
            elif state is h11.SEND_BODY:
                self._arm("body")
            else:
                self._disarm()

        def _arm(self, phase: str) -> None:
            if self._phase == phase:
                return  # a deadline counts from the start of its phase, not from each byte
            self._disarm()
            self._phase = phase
            delay = header_timeout if phase == "header" else body_timeout
            self._deadline = self.loop.call_later(delay, self._expired, phase)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = None
            self._phase = None

        def _expired(self, phase: str) -> None:
            self._deadline = None
            self._phase = None
            if self.transport.is_closing():
                return
            if phase == "header":
                DeadlineCounts.header += 1
            else:
                DeadlineCounts.body += 1
            self.logger.info(
                "closing a connection that took longer than %gs to send a request's %s",
                header_timeout if phase == "header" else body_timeout,
                "headers" if phase == "header" else "body",
            )
            self.transport.close()

    return DeadlineH11Protocol
