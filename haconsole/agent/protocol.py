"""The agent's control protocol as the console speaks it: one translation of a console
`Command` into a control-socket request, used by every client (the local socket source,
the SSH source, the namespace lab).

Why one place: the request names and fields are the agent's API; two copies of the
mapping drift (one source supported a command the other did not).
"""

from __future__ import annotations

from typing import Any

from haconsole.cluster import commands as cmd

#: Console command -> the agent's control request name.
REQUESTS: dict[type[cmd.Command], str] = {
    cmd.StopService: "stop-service",
    cmd.StartService: "start-service",
    cmd.Failover: "failover",
    cmd.CancelHold: "cancel-hold",
    cmd.RestartAgent: "restart",
}


def supports(command: type[cmd.Command]) -> bool:
    """Whether an agent can run that kind of console command."""
    return command in REQUESTS


def control_request(command: cmd.Command) -> dict[str, Any]:
    """The control request for `command` (KeyError when an agent cannot run it)."""
    request: dict[str, Any] = {"cmd": REQUESTS[type(command)]}
    if isinstance(command, cmd.Failover | cmd.CancelHold) and command.instance:
        request["instance"] = command.instance
    if isinstance(command, cmd.StopService | cmd.StartService):
        request["service"] = command.service
    return request
