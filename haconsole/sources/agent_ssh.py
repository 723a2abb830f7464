"""A haconsole agent node over SSH: `haconsole agent ctl --stream` carries its control socket.

Why this is thin: the agent already speaks `cluster.events` (its control socket, see
haconsole/agent/daemon.py), and `ctl --stream` bridges that socket to stdin/stdout, so no
port is opened on the node. Protocol, one JSON object per line each way:

    -> {"id": 1, "cmd": "subscribe"}        <- {"id": 1, "ok": true, "node": "..."}
                                            <- {"event": {...Event.to_dict()...}} forever
    -> {"id": 2, "cmd": "failover", "instance": "VI_1"}
                                            <- {"id": 2, "ok": true, "detail": "..."}
    stop-service / start-service {"service": ...}, restart

Events are shown under the inventory's node name (an agent names itself after its
host; the console and commands use the inventory's names). Anything malformed from the
remote is logged as a warning, never executed or interpolated.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from typing import Any

import asyncssh

from haconsole.agent.protocol import control_request
from haconsole.agent.protocol import supports as agent_supports
from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.history_gate import ReplayFilter
from haconsole.sources.base import Publish
from haconsole.sources.inventory import NodeSpec
from haconsole.sources.ssh import (
    NodeLink,
    SharedView,
    SshOptions,
    measure_clock,
    remote_command,
    render_template,
    template_values,
    wait_within,
)

__all__ = ["AgentSshSource", "agent_request"]

def agent_request(command: cmd.Command, rid: int) -> dict[str, Any]:
    """The control-socket request for a console command, with its id."""
    return {"id": rid, **control_request(command)}


class AgentSshSource:
    """One node running `haconsole agent`, reached over SSH, as a `Source`."""

    def __init__(self, spec: NodeSpec, options: SshOptions | None = None, *,
                 view: SharedView | None = None, reply_timeout: float = 40.0) -> None:
        self.spec = spec
        self.name = spec.name
        self.options = options or SshOptions()
        self.view = view or SharedView()
        self.reply_timeout = reply_timeout
        self.link: NodeLink | None = None
        self.agent_name = ""
        self._publish: Publish = lambda e: None
        self._proc: asyncssh.SSHClientProcess[str] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 1
        self._subscribed = asyncio.Event()
        self._replayed = ReplayFilter()

    async def start(self, publish: Publish) -> None:
        self._publish = publish
        self.link = NodeLink(self.spec, self.options, self._emit, self._session,
                             agent="haconsole")
        self.link.start()

    async def stop(self) -> None:
        if self.link is not None:
            await self.link.stop()

    def supports(self, command: type[cmd.Command]) -> bool:
        return agent_supports(command)

    def warning(self, command: cmd.Command) -> str:
        """Nothing to add: the agent keeps a released master backup for its
        failover_hold, so a failover is not undone by preemption at once."""
        return ""

    def _emit(self, event: ev.Event) -> None:
        self.view.apply(event)
        self._publish(event)

    # ------------------------------------------------------------------ session
    async def _session(self, conn: asyncssh.SSHClientConnection) -> None:
        await self._measure_clock(conn)
        script = render_template(self.spec.command("agent_stream"), template_values(self.spec))
        proc = await conn.create_process(remote_command(script, sudo=self.spec.sudo),
                                         encoding="utf-8", errors="replace")
        self._proc = proc
        self._replayed.connected()
        try:
            await self._send({"id": 0, "cmd": "subscribe"})
            async for line in proc.stdout:
                self._line(line)
            err = await _drain(proc.stderr)
            raise ConnectionError("the agent stream ended" + (f": {err}" if err else ""))
        finally:
            self._proc = None
            self._subscribed.clear()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_result({"ok": False, "detail": "connection lost"})
            self._pending.clear()
            proc.close()

    async def _measure_clock(self, conn: asyncssh.SSHClientConnection) -> None:
        """The agent stamps its events with its own clock: how far that is from ours is
        shown (ClockOffset), as for keepalived nodes."""
        try:
            clock = await measure_clock(conn, timeout=self.options.command_timeout)
        except (ValueError, TimeoutError, asyncio.TimeoutError, asyncssh.Error) as err:
            self._warn(f"cannot read the node's clock ({err})")
            return
        self._emit(ev.ClockOffset(time.time(), self.name, offset=clock.offset,
                                  error=clock.error))

    async def _send(self, obj: dict[str, Any]) -> None:
        if self._proc is None:
            raise ConnectionError("not connected")
        self._proc.stdin.write(json.dumps(obj, separators=(",", ":")) + "\n")
        await self._proc.stdin.drain()

    def _line(self, line: str) -> None:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            self._warn(f"agent sent a line that is not JSON ({len(line)} bytes)")
            return
        if not isinstance(obj, dict):
            self._warn("agent sent JSON that is not an object")
            return
        if "event" in obj:
            data = obj["event"]
            try:
                event = ev.event_from_dict(data if isinstance(data, dict) else {})
            except (ValueError, TypeError) as err:
                self._warn(f"agent sent an event we cannot read: {err}")
                return
            if not self.agent_name:
                self.agent_name = event.node
            if self._replayed.admit(event):  # not what we published before a reconnect
                self._emit(dataclasses.replace(event, node=self.name))
            return
        rid = obj.get("id")
        if rid == 0:
            self.agent_name = str(obj.get("node") or self.agent_name)
            self._subscribed.set()
            if not obj.get("ok", False):
                self._warn(f"agent refused to subscribe: {obj.get('detail', '')}")
            return
        fut = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if fut is not None and not fut.done():
            fut.set_result(obj)

    def _warn(self, text: str) -> None:
        self._emit(ev.LogLine(time.time(), self.name, f"[haconsole] {text}", "warning"))

    # ------------------------------------------------------------------ commands
    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        """Send the command to the agent and wait for its reply; publishes a CommandResult."""
        ok, detail = await self._execute(command)
        self._emit(ev.CommandResult(time.time(), self.name, command=command.describe(),
                                    ok=ok, detail=detail))
        return ok, detail

    async def _execute(self, command: cmd.Command) -> tuple[bool, str]:
        if not agent_supports(type(command)):
            return False, f"a haconsole agent cannot run {command.name}"
        if self._proc is None:
            why = self.link.last_error if self.link is not None else "not started"
            return False, f"{self.name} is not connected ({why or 'connecting'})"
        rid = self._next_id
        self._next_id += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            await self._send(agent_request(command, rid))
            reply = await wait_within(fut, self.reply_timeout)
        except (asyncio.TimeoutError, TimeoutError):
            return False, f"{self.name}: no reply from the agent within {self.reply_timeout:g} s"
        except (ConnectionError, OSError, asyncssh.Error) as err:
            return False, f"{self.name}: {err}"
        finally:
            self._pending.pop(rid, None)
        return bool(reply.get("ok")), str(reply.get("detail", ""))


async def _drain(stream: asyncssh.SSHReader[str], timeout: float = 1.0) -> str:
    with contextlib.suppress(asyncio.TimeoutError, TimeoutError, asyncssh.Error, OSError):
        text = await wait_within(stream.read(), timeout)
        lines = [ln for ln in str(text).splitlines() if ln.strip()]
        return lines[-1][:200] if lines else ""
    return ""
