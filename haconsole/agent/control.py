"""The agent's control socket: the server side of `haconsole agent ctl` (ctl.py).

A unix stream socket, mode 0600 (root's business only), one JSON object per line each
way. Requests carry an optional `id` echoed in the reply:

    {"id": 1, "cmd": "status"}            -> {"id": 1, "ok": true, "node": ..., "events": [...]}
    {"id": 2, "cmd": "subscribe"}         -> reply, then {"event": {...}} lines forever
    {"id": 3, "cmd": "failover", "instance": "VI_1"}   (no instance: every master here)
    {"cmd": "cancel-hold", "instance": "VI_1"}   (end the failover hold: preempt again)
    {"cmd": "stop-service", "service": "nginx"} / "start-service"
    {"cmd": "reload"} / {"cmd": "restart"} / {"cmd": "shutdown"}

Events are `cluster.events` as `to_dict()`; that is the one model every console source
speaks, so an SSH session running `haconsole agent ctl --stream` carries them unchanged.
How a console `Command` becomes one of these requests is `protocol.py`.

Connection policy. Anything a client sends gets a reply, and a bad request one warning
line in the log, never a traceback. The agent carries on, and so does the connection but
after an over-long line:

- `MAX_LINE` (1 MiB): a longer request line is answered `{"ok": false, ...}` and the
  connection is closed, since the rest of that line cannot be told from a next request.
- `MAX_DEPTH` (8): a request is a flat object; JSON nested deeper is refused before the
  agent looks at it (deep nesting only exercises the parser's recursion).
- Fields: `cmd` a string; `instance` and `service` a string or null; `id` a string, an
  integer or null (it is echoed back). Other fields are ignored, for newer clients.
- `QUEUE_SIZE` events wait per subscriber: a slow reader loses events (it is told how
  many, as a SourceHealth event); the agent never waits for a reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from haconsole.cluster import events as ev

log = logging.getLogger("haconsole.agent")

MAX_LINE = 1 << 20
MAX_DEPTH = 8
QUEUE_SIZE = 20_000

RequestId = str | int | None


@dataclass(frozen=True)
class Request:
    """One control request, checked: every field has the type the agent expects."""

    cmd: str
    id: RequestId = None
    instance: str | None = None
    service: str | None = None


class RequestError(ValueError):
    """A request the agent refuses; `id` is echoed when the request had a usable one."""

    def __init__(self, detail: str, rid: RequestId = None) -> None:
        super().__init__(detail)
        self.id = rid


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether JSON `value` nests deeper than `limit` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def parse_request(line: bytes) -> Request:
    """A request line -> Request; RequestError with a one-line reason otherwise."""
    try:
        data = json.loads(line)
    except RecursionError:
        raise RequestError(f"bad request: JSON nested deeper than {MAX_DEPTH} levels"
                           ) from None
    except json.JSONDecodeError as err:
        raise RequestError(f"bad request: {err}") from None
    except UnicodeDecodeError:
        raise RequestError("bad request: not UTF-8 text") from None
    except ValueError:  # int()'s digit limit, let through by json
        raise RequestError("bad request: a number too long to read") from None
    if not isinstance(data, dict):
        raise RequestError(f"bad request: expected a JSON object, got {_json_type(data)}")
    if _depth_exceeds(data, MAX_DEPTH):
        raise RequestError(f"bad request: JSON nested deeper than {MAX_DEPTH} levels")
    rid = data.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, str | int)):
        raise RequestError(f"bad request: 'id' must be a string, an integer or null, "
                           f"not {_json_type(rid)}")
    cmd = data.get("cmd")
    if not isinstance(cmd, str):
        what = "missing" if cmd is None else f"must be a string, not {_json_type(cmd)}"
        raise RequestError(f"bad request: 'cmd' {what}", rid)
    names: dict[str, str | None] = {}
    for key in ("instance", "service"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise RequestError(f"bad request: {key!r} must be a string or null, "
                               f"not {_json_type(value)}", rid)
        names[key] = value or None
    return Request(cmd, rid, names["instance"], names["service"])


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


class Controlled(Protocol):
    """What the server needs from the agent it serves."""

    name: str

    def snapshot(self) -> list[ev.Event]: ...

    async def execute(self, request: Request) -> dict[str, Any]: ...

    def watchers_changed(self) -> None: ...


class Subscriber:
    """One `subscribe`d connection: its queue of events and how many it lost."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0


class ControlServer:
    """Serves the control socket at `path` for `agent` (see the module docstring)."""

    def __init__(self, path: str, agent: Controlled) -> None:
        self.path = path
        self.agent = agent
        self.subscribers: set[Subscriber] = set()
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        """Listen; OSError-free: a problem is a ControlError with one line."""
        path = Path(self.path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if path.exists() or path.is_symlink():
                if _socket_alive(path):
                    raise ControlError(f"another agent is listening on {path}")
                path.unlink()
        except OSError as err:
            raise ControlError(f"cannot create control socket {path}: {err.strerror}"
                               ) from None
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._client, path=str(path),
                                                           limit=MAX_LINE)
        except OSError as err:
            raise ControlError(f"cannot create control socket {path}: {err.strerror}"
                               ) from None
        finally:
            os.umask(old)
        os.chmod(path, 0o600)

    async def close(self) -> None:
        """Stop listening, end every subscription, remove the socket file."""
        if self._server is None:
            return
        self._server.close()
        for sub in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)
        with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 1.0)
        self._server = None
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def fan_out(self, event: ev.Event) -> None:
        """Queue `event` for every subscriber (a full queue counts a loss)."""
        data = event.to_dict()
        for sub in self.subscribers:
            try:
                sub.queue.put_nowait(data)
            except asyncio.QueueFull:
                sub.dropped += 1

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sub: Subscriber | None = None
        pump: asyncio.Task[None] | None = None
        lock = asyncio.Lock()

        async def send(obj: dict[str, Any]) -> None:
            async with lock:
                writer.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
                await writer.drain()

        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # the line outgrew the reader's limit (MAX_LINE)
                    detail = f"bad request: line longer than {MAX_LINE} bytes; closing"
                    log.warning("control socket: %s", detail)
                    await send({"ok": False, "detail": detail})
                    break
                if not line:
                    break
                try:
                    request = parse_request(line)
                except RequestError as err:
                    log.warning("control socket: %s", err)
                    await send({"id": err.id, "ok": False, "detail": str(err)})
                    continue
                if request.cmd == "subscribe":
                    if sub is None:
                        sub = Subscriber()
                        for event in self.agent.snapshot():
                            sub.queue.put_nowait(event.to_dict())
                        self.subscribers.add(sub)
                        self.agent.watchers_changed()
                        pump = asyncio.get_running_loop().create_task(self._pump(sub, send))
                    await send({"id": request.id, "ok": True, "node": self.agent.name})
                    continue
                reply = await self.agent.execute(request)
                await send({"id": request.id, **reply})
        except ConnectionError:
            pass
        finally:
            if sub is not None:
                self.subscribers.discard(sub)
                self.agent.watchers_changed()
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await pump
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _pump(self, sub: Subscriber,
                    send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        while True:
            data = await sub.queue.get()
            if data is None:
                return
            if sub.dropped:
                lost, sub.dropped = sub.dropped, 0
                health = ev.SourceHealth(time.time(), self.agent.name, ok=False,
                                         detail=f"{lost} events dropped (slow reader)")
                await send({"event": health.to_dict()})
            await send({"event": data})


class ControlError(Exception):
    """The control socket cannot be served; the message says why, in one line."""


def _socket_alive(path: Path) -> bool:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(0.5)
        sock.connect(str(path))
    except OSError:
        return False
    finally:
        sock.close()
    return True
