"""`haconsole agent ctl`: the agent's control-socket client, for people and for SSH.

`ctl status` prints the instances; `ctl events` follows the event stream; `ctl failover
[INSTANCE]`, `cancel-hold [INSTANCE]`, `stop-service [NAME]`, `start-service [NAME]`,
`reload`, `restart`, `shutdown` run commands. `--json` prints the agent's raw replies.
`--stream` bridges stdin/stdout to the socket byte for byte: the console's SSH source runs
`haconsole agent ctl --stream` on a remote node and speaks the JSON-lines protocol
through it, so no port is ever opened on the node.

Exit codes: 0 done, 1 the agent refused (detail printed), 2 cannot reach the agent.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import sys
from typing import IO, Any

from haconsole.cluster.events import event_from_dict

ACTIONS = ("status", "events", "failover", "cancel-hold", "stop-service", "start-service",
           "reload", "restart", "shutdown")


class CtlError(Exception):
    """The agent cannot be reached; the message says where we looked."""


def connect(path: str, timeout: float | None = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except FileNotFoundError:
        sock.close()
        raise CtlError(f"no agent control socket at {path} (is `haconsole agent` running?)"
                       ) from None
    except PermissionError:
        sock.close()
        raise CtlError(f"permission denied on {path} (the socket is root's, mode 0600)"
                       ) from None
    except OSError as err:
        sock.close()
        raise CtlError(f"cannot connect to {path}: {err.strerror}") from None
    return sock


def request(path: str, obj: dict[str, Any], timeout: float = 35.0) -> dict[str, Any]:
    """Send one request, return its reply (CtlError when the agent is unreachable)."""
    with connect(path, timeout) as sock:
        sock.sendall(json.dumps({"id": 1, **obj}).encode() + b"\n")
        f = sock.makefile("rb")
        while True:
            line = f.readline()
            if not line:
                raise CtlError(f"the agent at {path} closed the connection")
            reply = json.loads(line)
            if reply.get("id") == 1:
                return dict(reply)


def stream(path: str, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """Copy stdin -> socket and socket -> stdout until either side closes."""
    sock = connect(path, None)
    in_fd, sock_fd = stdin.fileno(), sock.fileno()
    open_in = True
    try:
        while True:
            readers = [sock_fd, in_fd] if open_in else [sock_fd]
            ready, _, _ = select.select(readers, [], [])
            if sock_fd in ready:
                data = sock.recv(65536)
                if not data:
                    return 0
                stdout.write(data)
                stdout.flush()
            if open_in and in_fd in ready:
                data = os.read(in_fd, 65536)
                if not data:
                    open_in = False
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_WR)
                else:
                    sock.sendall(data)
    except (BrokenPipeError, ConnectionError):
        return 0
    finally:
        sock.close()


def format_status(reply: dict[str, Any]) -> str:
    lines = [f"node {reply.get('node')}  pid {reply.get('pid')}  config {reply.get('config')}"]
    rows = [("INSTANCE", "STATE", "PRIO", "VRID", "IFACE", "VIPS", "MASTER")]
    services = []
    for data in reply.get("events", []):
        if data.get("kind") == "instance_state":
            prio = f"{data['effective_priority']}/{data['base_priority']}"
            rows.append((data["instance"], data["state"], prio, str(data["vrid"]),
                         data["interface"], ",".join(data["vips"]) or "-",
                         data["master_address"] or "-"))
        elif data.get("kind") == "service_state":
            services.append(f"{data['service']} {'up' if data['up'] else 'DOWN'}")
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if services:
        lines.append("services: " + ", ".join(services))
    return "\n".join(lines)


def format_event(data: dict[str, Any]) -> str:
    try:
        event = event_from_dict(data)
    except (ValueError, TypeError):
        return json.dumps(data)
    fields = {k: v for k, v in data.items() if k not in ("kind", "t", "node")}
    detail = " ".join(f"{k}={v}" for k, v in fields.items())
    return f"{event.t:.3f} {event.node} {event.kind} {detail}"


def main_ctl(args: Any) -> int:
    path = args.control
    action = args.action
    try:
        if args.stream:
            return stream(path, sys.stdin.buffer, sys.stdout.buffer)
        if action is None or action == "status":
            reply = request(path, {"cmd": "status"})
            print(json.dumps(reply) if args.json else format_status(reply))
            return 0 if reply.get("ok") else 1
        if action == "events":
            return _follow(path, args.json)
        payload: dict[str, Any] = {"cmd": action}
        if action in ("failover", "cancel-hold") and args.target:
            payload["instance"] = args.target
        if action in ("stop-service", "start-service") and args.target:
            payload["service"] = args.target
        reply = request(path, payload)
    except CtlError as err:
        print(f"haconsole agent ctl: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(reply))
    else:
        print(reply.get("detail", "ok" if reply.get("ok") else "failed"))
    return 0 if reply.get("ok") else 1


def _follow(path: str, raw: bool) -> int:
    with connect(path, None) as sock:
        sock.sendall(b'{"id":1,"cmd":"subscribe"}\n')
        f = sock.makefile("rb")
        try:
            for line in f:
                msg = json.loads(line)
                if "event" not in msg:
                    continue
                print(json.dumps(msg["event"]) if raw else format_event(msg["event"]),
                      flush=True)
        except KeyboardInterrupt:
            return 0
    return 0
