"""notify_* scripts, run on transitions with keepalived's arguments.

Why: operators' existing notify scripts (mail, PagerDuty, `systemctl start`) must keep
working unchanged when haconsole replaces keepalived. keepalived runs, on each transition
of an instance, the state's own script as written (`notify_master "/x.sh arg"`), then the
generic `notify` script with four more arguments: "INSTANCE", the instance name, the new
state (MASTER, BACKUP, FAULT, STOP) and the priority. Scripts run in the background,
never delaying the protocol; a script still running after `timeout` is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from haconsole.cluster import events as ev
from haconsole.config import Config, VrrpInstance
from haconsole.engine.scripts import ScriptError, run_script, script_argv

log = logging.getLogger("haconsole.notify")

LogFn = Callable[[str], None]


def notify_commands(inst: VrrpInstance, state: str, priority: int) -> list[list[str]]:
    """The argvs keepalived runs when `inst` enters `state`, in its order."""
    out: list[list[str]] = []
    specific = {
        "MASTER": inst.notify_master,
        "BACKUP": inst.notify_backup,
        "FAULT": inst.notify_fault,
        "STOP": inst.notify_stop,
    }.get(state)
    if specific:
        out.append(script_argv(specific))
    if inst.notify:
        out.append(script_argv(inst.notify, ["INSTANCE", inst.name, state, str(priority)]))
    return out


class Notifier:
    """Watches a Node's events and runs the configured notify scripts."""

    def __init__(self, config: Config, *, user: str | None = None, timeout: float = 30.0,
                 log_fn: LogFn | None = None) -> None:
        self.instances = {i.name: i for i in config.vrrp_instances}
        self.user = user if user is not None else config.global_defs.script_user
        self.timeout = timeout
        self.log_fn = log_fn or log.info
        self.priorities: dict[str, int] = {i.name: i.priority for i in config.vrrp_instances}
        self.tasks: set[asyncio.Task[None]] = set()
        self.runs = 0

    def use(self, config: Config) -> None:
        """A reload: notify scripts of the new configuration from now on."""
        self.instances = {i.name: i for i in config.vrrp_instances}
        self.user = config.global_defs.script_user

    def on_event(self, event: ev.Event) -> None:
        """Feed every event of the node; transitions start scripts."""
        if isinstance(event, ev.InstanceState):
            self.priorities[event.instance] = event.effective_priority
        elif isinstance(event, ev.PriorityChange):
            self.priorities[event.instance] = event.new
        elif isinstance(event, ev.Transition):
            inst = self.instances.get(event.instance)
            if inst is None or event.new == "INIT":
                return
            try:
                argvs = notify_commands(inst, event.new, self.priorities.get(inst.name, 0))
            except ScriptError as err:
                self.log_fn(f"({inst.name}) cannot run notify script: {err}")
                return
            for argv in argvs:
                self._spawn(argv)

    def _spawn(self, argv: list[str]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._run(argv))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, argv: list[str]) -> None:
        self.runs += 1
        try:
            await asyncio.wait_for(run_script(argv, user=self.user), self.timeout)
        except (asyncio.TimeoutError, TimeoutError):
            self.log_fn(f"notify script {argv[0]} timed out after {self.timeout:g} s: killed")
        except (OSError, ScriptError) as err:
            self.log_fn(f"cannot run notify script {argv[0]}: {err}")

    async def wait(self) -> None:
        """Let running scripts finish (used on shutdown, so notify_stop runs)."""
        if self.tasks:
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True),
                                       self.timeout)
