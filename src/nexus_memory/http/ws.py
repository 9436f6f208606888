"""WebSocket /ws: every event the services publish, broadcast to every connected client.

Services publish on the EventBus from worker threads; the hub hops onto the event
loop with `call_soon_threadsafe` and puts the message in each client's bounded queue.
A client that falls behind loses its oldest messages (and is told how many), never
slowing a store. Messages: `{"type": "memory.created", "data": {...}, "at": "..."}`;
a client may send `{"type": "ping"}` and gets `{"type": "pong"}` back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from nexus_memory.domain.timeutil import to_iso, utcnow
from nexus_memory.http.security import TOKEN_SUBPROTOCOL
from nexus_memory.services.events import EventBus

QUEUE_SIZE = 256


class _Client:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0

    def offer(self, message: dict[str, Any]) -> None:
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(message)


class EventHub:
    def __init__(self, events: EventBus) -> None:
        self.events = events
        self.clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = self.events.subscribe(self._on_event)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._loop = None

    def _on_event(self, event: str, payload: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        message = {"type": event, "data": payload, "at": to_iso(utcnow())}
        loop.call_soon_threadsafe(self._fanout, message)

    def _fanout(self, message: dict[str, Any]) -> None:
        for client in list(self.clients):
            client.offer(message)

    async def serve(self, ws: WebSocket) -> None:
        protocols = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
        await ws.accept(subprotocol=TOKEN_SUBPROTOCOL if protocols[:1] == [TOKEN_SUBPROTOCOL] else None)
        client = _Client()
        self.clients.add(client)
        try:
            await ws.send_json({"type": "hello", "data": {"clients": len(self.clients)}, "at": to_iso(utcnow())})
            sender = asyncio.create_task(self._send_loop(ws, client))
            try:
                await self._receive_loop(ws, client)
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender
        except WebSocketDisconnect:
            pass
        finally:
            self.clients.discard(client)

    async def _send_loop(self, ws: WebSocket, client: _Client) -> None:
        while True:
            message = await client.queue.get()
            if client.dropped:
                message = {**message, "dropped": client.dropped}
                client.dropped = 0
            await ws.send_json(message)

    async def _receive_loop(self, ws: WebSocket, client: _Client) -> None:
        while True:
            received = await ws.receive()
            if received["type"] == "websocket.disconnect":
                return
            text = received.get("text")
            if not text:
                continue
            try:
                msg = json.loads(text)
            except ValueError:
                continue
            if isinstance(msg, dict) and msg.get("type") == "ping":
                client.offer({"type": "pong", "data": {}, "at": to_iso(utcnow())})
