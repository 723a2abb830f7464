"""A haconsole agent as a console Source: its event stream in, commands out.

Why one connection: the agent's control socket speaks JSON lines both ways, so the event
stream (`subscribe`) and the commands share one stream, matched by request `id`. The
same code serves a local agent (`socket_path`) and a remote one: pass `connect`, a
coroutine returning an (asyncio reader, writer) pair, e.g. the stdio of
`ssh node haconsole agent ctl --stream`. A lost connection is reported (SourceHealth,
NodeLost) and retried; on reconnection the agent replays its snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from haconsole.agent.protocol import control_request
from haconsole.agent.protocol import supports as agent_supports
from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.history_gate import ReplayFilter
from haconsole.sources.base import Publish, end_task

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Connect = Callable[[], Awaitable[Streams]]

class AgentSocketSource:
    """Implements sources.base.Source for one haconsole agent."""

    def __init__(self, name: str, socket_path: str | None = None, *,
                 connect: Connect | None = None, retry: float = 1.0,
                 timeout: float = 35.0) -> None:
        if socket_path is None and connect is None:
            raise ValueError("AgentSocketSource needs a socket_path or a connect function")
        self.name = name
        self.socket_path = socket_path
        self._connect_fn = connect
        self.retry = retry
        self.timeout = timeout
        self.node = name  # replaced by the agent's own name once connected
        self.connected = asyncio.Event()
        self._publish: Publish = lambda e: None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 1
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._replayed = ReplayFilter()

    # ----------------------------------------------------------------- Source
    async def start(self, publish: Publish) -> None:
        """Connect (or keep trying in the background) and start publishing."""
        self._publish = publish
        self._task = asyncio.get_running_loop().create_task(self._run())
        with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
            await asyncio.wait_for(self.connected.wait(), 2.0)

    async def stop(self) -> None:
        self._stopped = True
        await end_task(self._task)
        self._task = None
        self._close()

    def supports(self, command: type[cmd.Command]) -> bool:
        return agent_supports(command)

    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        if not agent_supports(type(command)):
            return self._result(command, False, f"an agent cannot run {command.name}")
        try:
            reply = await self.request(control_request(command))
        except ConnectionError as err:
            return self._result(command, False, f"{self.name}: {err}")
        return self._result(command, bool(reply.get("ok")), str(reply.get("detail", "")))

    # ----------------------------------------------------------------- requests
    async def request(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one control request and wait for its reply (ConnectionError if down)."""
        writer = self._writer
        if writer is None:
            raise ConnectionError("not connected to the agent")
        rid = self._next_id
        self._next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            writer.write(json.dumps({"id": rid, **request}).encode() + b"\n")
            await writer.drain()
            return await asyncio.wait_for(future, self.timeout)
        except (asyncio.TimeoutError, TimeoutError):
            raise ConnectionError(f"no reply within {self.timeout:g} s") from None
        finally:
            self._pending.pop(rid, None)

    def _result(self, command: cmd.Command, ok: bool, detail: str) -> tuple[bool, str]:
        self._publish(ev.CommandResult(time.time(), command.node, command=command.describe(),
                                       ok=ok, detail=detail))
        return ok, detail

    # ----------------------------------------------------------------- connection
    async def _open(self) -> Streams:
        if self._connect_fn is not None:
            return await self._connect_fn()
        assert self.socket_path is not None
        return await asyncio.open_unix_connection(self.socket_path, limit=1 << 20)

    async def _run(self) -> None:
        was_connected = False
        last_error = ""
        while not self._stopped:
            try:
                reader, writer = await self._open()
            except OSError as err:
                detail = f"cannot reach agent: {err.strerror or err}"
                if detail != last_error:
                    self._publish(ev.SourceHealth(time.time(), self.node, ok=False,
                                                  detail=detail))
                    last_error = detail
                await asyncio.sleep(self.retry)
                continue
            last_error = ""
            self._writer = writer
            self._replayed.connected()
            writer.write(b'{"id":0,"cmd":"subscribe"}\n')
            try:
                await writer.drain()
                await self._read(reader)
            except (ConnectionError, asyncio.IncompleteReadError, ValueError) as err:
                last_error = str(err)
            was_connected = self.connected.is_set()
            self._close()
            if self._stopped:
                return
            if was_connected:
                t = time.time()
                self._publish(ev.SourceHealth(t, self.node, ok=False,
                                              detail="connection to the agent lost"))
                self._publish(ev.NodeLost(t, self.node, reason="agent connection lost"))
            await asyncio.sleep(self.retry)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            line = await reader.readline()
            if not line:
                return
            msg = json.loads(line)
            if "event" in msg:
                try:
                    event = ev.event_from_dict(msg["event"])
                except (ValueError, TypeError):
                    continue
                if self._replayed.admit(event):  # not what we published before a reconnect
                    self._publish(event)
                continue
            rid = msg.get("id")
            if rid == 0:  # the subscribe reply
                self.node = str(msg.get("node") or self.node)
                self.connected.set()
                self._publish(ev.SourceHealth(time.time(), self.node, ok=True,
                                              detail=f"connected to {self.name}"))
                continue
            future = self._pending.get(rid) if isinstance(rid, int) else None
            if future is not None and not future.done():
                future.set_result(msg)

    def _close(self) -> None:
        self.connected.clear()
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection to the agent lost"))
        self._pending.clear()
