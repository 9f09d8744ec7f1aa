"""Start and stop a Wyoming server (tcp://, unix://) that speaks through a loaded runtime."""

from __future__ import annotations

import asyncio
import signal

from wyoming.server import AsyncServer

from speaker.integrations.wyoming.handler import SpeechHandler
from speaker.runtime import Runtime


class WyomingServer:
    """A Wyoming endpoint sharing the runtime, so its speech queues with HTTP speech."""

    def __init__(self, runtime: Runtime, uri: str) -> None:
        self._runtime = runtime
        self._server = AsyncServer.from_uri(uri)
        self.uri = uri

    async def start(self) -> None:
        """Listen without blocking; connections are served on the running loop."""
        await self._server.start(self._handler)

    async def stop(self) -> None:
        """Close every connection (their synthesis is cancelled) and stop listening."""
        await self._server.stop()

    def _handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> SpeechHandler:
        peer = writer.get_extra_info("peername")
        # Per-client fairness in the scheduler: one Home Assistant is one client.
        client = f"wyoming:{peer[0]}" if isinstance(peer, tuple) else "wyoming:local"
        return SpeechHandler(self._runtime, client, reader, writer)


async def serve(runtime: Runtime, uri: str) -> None:
    """Serve until SIGINT or SIGTERM (the standalone `speaker wyoming` command)."""
    server = WyomingServer(runtime, uri)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await server.start()
    try:
        await stopping.wait()
    finally:
        await server.stop()
