"""`haconsole agent`: the engine as a daemon on real interfaces, a keepalived drop-in.

It reads keepalived.conf with haconsole's keepalived parser, runs every instance on the
real interfaces (raw VRRP sockets, netlink VIPs, GARP/NA), runs the trackers the file
asks for (vrrp_script subprocesses, pidfd process tracking, netlink link state, inotify
track_file watches), calls notify scripts and logs in keepalived's forms. Its control
socket (control.py) runs operators' commands and streams events to consoles; the
trackers come from `engine.build`.

Signals: SIGTERM/SIGINT -> masters send priority 0, VIPs removed, exit 0; SIGHUP ->
reload (a bad config is logged and the running one kept). Exit codes are keepalived's,
so a unit file's RestartPreventExitStatus works the same: 0 ok, 3 fatal, 4 config error,
8 missing permission (CAP_NET_RAW / CAP_NET_ADMIN).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from haconsole.agent.control import ControlError, ControlServer, Request
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView, ViewConfig
from haconsole.config import Config
from haconsole.engine.build import build_trackers, with_primary_tracking
from haconsole.engine.history import HistoryRing
from haconsole.engine.node import Node, Tracker
from haconsole.engine.notify import Notifier
from haconsole.engine.scripts import ScriptError, run_script, script_argv
from haconsole.keepalived.log.compat import log_wording

if TYPE_CHECKING:
    from haconsole.keepalived.conf import Environment

log = logging.getLogger("haconsole.agent")

EXIT_OK = 0
EXIT_FATAL = 3
EXIT_CONFIG = 4
EXIT_MISSING_PERMISSION = 8

DEFAULT_CONTROL = "/run/haconsole/agent.sock"
CAP_NET_ADMIN = 12
CAP_NET_RAW = 13


class AgentError(Exception):
    """A startup problem, with the exit code a service manager should see."""

    def __init__(self, message: str, code: int = EXIT_FATAL) -> None:
        super().__init__(message)
        self.code = code


# ----------------------------------------------------------------------------- config
def default_config_id() -> str:
    """keepalived's default config id (`@ID` lines): the host name up to its first dot."""
    return socket.gethostname().split(".", 1)[0]


def config_environment(config_id: str | None = None, *, local: bool = False
                       ) -> Environment:
    """How the agent reads keepalived.conf: `@ID` lines selected like keepalived's
    (`config_id`, default the host name); `local` checks interfaces, scripts and users
    against this machine as `keepalived -t` run here would."""
    from haconsole.keepalived.conf import Environment

    env = Environment.local() if local else Environment()
    return dataclasses.replace(env, config_id=config_id or default_config_id())


def load_config(path: str, config_id: str | None = None) -> tuple[Config, list[str], list[str]]:
    """(config, error lines, warning lines), each line `FILE:LINE: severity: message`.

    Any error (or a config keepalived could not run) makes the config unusable.
    """
    from haconsole.keepalived.conf import parse_file

    result = parse_file(path, config_environment(config_id))
    errors = [f.format() for f in result.findings if f.severity == "error"]
    errors += unsupported_by_agent(result.config)
    warnings = [f.format() for f in result.findings if f.severity == "warning"]
    if (result.fatal or not result.runnable) and not errors:
        errors.append(f"{path}: configuration cannot be run")
    return result.config, errors, warnings


def unsupported_by_agent(config: Config) -> list[str]:
    """What keepalived runs and the agent cannot, as error lines: running such an instance
    would not interoperate (keepalived 2.4 peers enforcing auth_hmac drop unsigned adverts,
    and two masters would follow)."""
    return [f"{inst.file}:{inst.line}: error: ({inst.name}) auth_hmac (keepalived 2.4's "
            "signed adverts) is not implemented by the haconsole agent; keepalived peers "
            "would drop its adverts"
            for inst in config.vrrp_instances if inst.auth_hmac]


def config_test(path: str, config_id: str | None, out: TextIO) -> int:
    """`-t`: what `haconsole check --local` says about the file, on `out`; the exit
    status is keepalived -t's, or EXIT_CONFIG when keepalived would pass a file the
    agent refuses to run."""
    from haconsole.keepalived.check import check_files, format_text

    report = check_files([path], config_environment(config_id, local=True))
    text = format_text(report)
    if text:
        print(text, file=out)
    result = report.nodes[0].result
    status = result.keepalived_status()
    refused = unsupported_by_agent(result.config)
    for line in refused:
        print(line, file=out)
    if not status and (result.fatal or not result.runnable or refused
                       or any(f.severity == "error" for f in result.findings)):
        status = EXIT_CONFIG
    return status


def _trackers_or_error(config: Config, *, reload: bool = False) -> dict[str, Tracker]:
    try:
        return build_trackers(config, reload=reload)
    except ScriptError as err:  # e.g. an unknown script user: a configuration error
        raise AgentError(str(err), EXIT_CONFIG) from None


# ----------------------------------------------------------------------------- checks
def effective_capabilities() -> int | None:
    """This process's effective capability mask (CapEff), None where unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError):
        return None
    return None


def check_permissions() -> None:
    """Raise AgentError(EXIT_MISSING_PERMISSION) with one line saying what is missing."""
    caps = effective_capabilities()
    missing = []
    if caps is not None:
        if not caps & (1 << CAP_NET_RAW):
            missing.append("CAP_NET_RAW (raw VRRP sockets)")
        if not caps & (1 << CAP_NET_ADMIN):
            missing.append("CAP_NET_ADMIN (adding VIPs)")
    if missing:
        raise AgentError(
            "missing " + " and ".join(missing)
            + ": run as root or grant them (e.g. AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN)",
            EXIT_MISSING_PERMISSION,
        )
    from haconsole.net.raw import check_raw_capability

    problem = check_raw_capability()
    if problem:
        raise AgentError(problem, EXIT_MISSING_PERMISSION)


# ----------------------------------------------------------------------------- agent
@dataclass
class AgentOptions:
    config_file: str
    control: str = DEFAULT_CONTROL
    config_id: str | None = None  # `-i`: which `@ID` lines apply (default: the host name)
    node_name: str | None = None
    services: dict[str, tuple[str, str]] = field(default_factory=dict)
    failover_hold: float = 60.0
    fast_preempt: bool = False  # take over at once when the followed master advertises lower
    check_permissions: bool = True
    track_primary: bool = True  # keepalived's implicit tracking of each instance's NIC
    metrics: tuple[str, int] | None = None  # `--metrics [ADDR:]PORT`: Prometheus /metrics
    log_compat: str = "2.2"  # `--log-compat`: keepalived 2.2's wording, or 2.4's
    log_detail: bool = False  # `-D`: 2.4's detail lines ("master set to") too


# (view provider, addr, port) -> a running server with `async close()`
ServeMetrics = Callable[[Callable[[], ClusterView], str, int], Awaitable[Any]]


class Agent:
    """One daemon: a Node on real interfaces, its trackers, notify scripts, control socket."""

    def __init__(self, options: AgentOptions, *,
                 transport_for: Callable[[str, int], Any] | None = None,
                 vips: Any = None, serve_metrics: ServeMetrics | None = None) -> None:
        self.options = options
        self.config: Config | None = None
        self.node: Node | None = None
        self.notifier: Notifier | None = None
        self.name = options.node_name or socket.gethostname()
        self._transport_for = transport_for
        self._vips = vips
        self._pool: Any = None
        self.control = ControlServer(options.control, self)
        self._subscribers = self.control.subscribers  # read on every advert: one lookup
        self.history = HistoryRing()  # the last 24 h, handed to every console that attaches
        self._stopping: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._service_of_track: dict[str, str] = {}
        self._trackers: dict[str, Tracker] = {}
        self.exit_code = EXIT_OK
        self.started = time.time()
        # With --metrics: the node's own events folded (no per-advert ones: the counters
        # carry them), read by each scrape. Its own facts are never stale.
        self.view: ClusterView | None = None
        self._serve_metrics = serve_metrics
        self._metrics: Any = None

    # ------------------------------------------------------------------ lifecycle
    def load(self) -> Config:
        """Parse and check the config; AgentError(EXIT_CONFIG) when it cannot be run."""
        try:
            config, errors, warnings = load_config(self.options.config_file,
                                                   self.options.config_id)
        except OSError as err:
            raise AgentError(f"cannot read {self.options.config_file}: {err.strerror}",
                             EXIT_CONFIG) from None
        for line in errors:
            log.error("%s", line)
        for line in warnings:
            log.warning("%s", line)
        if errors:
            raise AgentError(f"{self.options.config_file}: configuration errors, not starting",
                             EXIT_CONFIG)
        if not config.vrrp_instances:
            raise AgentError(f"{self.options.config_file}: no vrrp_instance to run",
                             EXIT_CONFIG)
        if self.options.node_name is None and config.global_defs.router_id:
            self.name = config.global_defs.router_id
        return config

    async def run(self, on_ready: Callable[[], None] | None = None) -> int:
        """Run until SIGTERM/SIGINT/shutdown; returns the exit code."""
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        config = self.load()
        if self.options.check_permissions:
            check_permissions()
        log.info("Starting haconsole agent %s on %s", version(), self.name)
        try:
            await self.control.start()
        except ControlError as err:
            raise AgentError(str(err), EXIT_FATAL) from None
        if self.options.metrics is not None:
            self.view = ClusterView(ViewConfig(stale_after=float("inf")))
        try:
            await self._start_node(config)
            await self._start_metrics()
        except BaseException:
            await self._stop_node()
            await self.control.close()
            raise
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload()))
        if on_ready is not None:
            on_ready()
        # What is allocated so far lives as long as the agent: keep it out of the
        # collector's generations (about half a percent of a core at 1000 instances).
        gc.freeze()
        try:
            await self._stopping.wait()
        finally:
            # Priority 0 first: removing signal handlers costs asyncio ~0.1 ms each.
            await self._stop_node()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            if self._metrics is not None:
                await self._metrics.close()
            await self.control.close()
            log.info("Stopped haconsole agent")
        return self.exit_code

    def request_stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    async def _start_node(self, config: Config) -> None:
        from haconsole.net.raw import RawSocketError, SocketPool

        run_config = self._prepare(config)
        if self._transport_for is None:
            self._pool = SocketPool()
            transport_for = self._pool.transport_for
        else:
            transport_for = self._transport_for
        self.notifier = Notifier(config, log_fn=log.info)
        self._trackers = _trackers_or_error(run_config)
        node = Node(self.name, run_config, transport_for=transport_for, vips=self._vips,
                    publish=self.publish, trackers=list(self._trackers.values()),
                    failover_hold=self.options.failover_hold,
                    fast_preempt=self.options.fast_preempt)
        wording = log_wording(self.options.log_compat, detail=self.options.log_detail)
        node.reword = wording.rewrite if wording is not None else None
        try:
            await node.start()
        except RawSocketError as err:
            raise AgentError(str(err), EXIT_FATAL) from None
        except ScriptError as err:
            raise AgentError(str(err), EXIT_CONFIG) from None
        self.config, self.node = config, node
        self.watchers_changed()

    async def _start_metrics(self) -> None:
        """`--metrics`: serve /metrics from the agent's view with the server the entry
        point hands in (haconsole.export.metrics.serve: exports sit above the agent)."""
        if self.options.metrics is None or self._serve_metrics is None:
            return
        addr, port = self.options.metrics
        try:
            self._metrics = await self._serve_metrics(self.metrics_view, addr, port)
        except OSError as err:
            where = f"{addr or '*'}:{port}"
            raise AgentError(f"cannot serve metrics on {where}: {err.strerror or err}",
                             EXIT_FATAL) from None
        log.info("Serving Prometheus metrics on %s:%d/metrics", addr or "*", port)

    def metrics_view(self) -> ClusterView:
        """The view a scrape reads, with every instance's counters as of now."""
        assert self.view is not None
        if self.node is not None:
            self.node.publish_counters(force=True)
        return self.view

    def _prepare(self, config: Config) -> Config:
        """What starting or reloading `config` needs before the node sees it; returns the
        configuration the node runs (with keepalived's implicit interface tracking)."""
        from haconsole.agent.loop import PRECISE_MAX_INSTANCES, set_precise
        from haconsole.net.vips import NetlinkVips

        set_precise(len(config.vrrp_instances) <= PRECISE_MAX_INSTANCES)
        if self._vips is None:
            self._vips = NetlinkVips()
        announcer = getattr(self._vips, "announcer", None)
        if announcer is not None:
            for inst in config.vrrp_instances:
                announcer.prepare(inst.all_vips, inst.interface)
        self._service_of_track = {
            name: proc.process for name, proc in config.track_processes.items()
            if proc.process in self.options.services
        }
        return with_primary_tracking(config) if self.options.track_primary else config

    async def _reconfigure(self, config: Config) -> None:
        """A reload without a failover: the node keeps every instance and tracker the new
        configuration still has (see Node.reconfigure). AgentError leaves all running."""
        from haconsole.net.raw import RawSocketError

        assert self.node is not None
        run_config = self._prepare(config)
        fresh = _trackers_or_error(run_config, reload=True)
        trackers = {key: self._trackers.get(key, tracker) for key, tracker in fresh.items()}
        try:
            await self.node.reconfigure(run_config, list(trackers.values()))
        except RawSocketError as err:
            assert self.config is not None
            self._prepare(self.config)
            raise AgentError(str(err), EXIT_FATAL) from None
        if self.notifier is not None:
            self.notifier.use(config)
        self.config, self._trackers = config, trackers

    async def _stop_node(self) -> None:
        node, self.node = self.node, None
        if node is not None:
            await node.stop()
        if self.notifier is not None:
            await self.notifier.wait()

    # ------------------------------------------------------------------ events
    def publish(self, event: ev.Event) -> None:
        """Every event of the node: to notify scripts and to every subscriber."""
        kind = event.kind
        if kind == "advert_sent" or kind == "advert_received":  # the hot path: 1/s/instance
            if self._subscribers:
                self.control.fan_out(event)
            return
        if self.notifier is not None:
            self.notifier.on_event(event)
        self.history.record(event)
        if self.view is not None:
            self.view.apply(event)
        if isinstance(event, ev.TrackResult) and event.track in self._service_of_track:
            service = self._service_of_track[event.track]
            self.publish(ev.ServiceState(event.t, event.node, service=service, up=event.ok))
        if self._subscribers:
            self.control.fan_out(event)

    def watchers_changed(self) -> None:
        """Per-advert events are built only while someone subscribes to them."""
        if self.node is not None:
            self.node.advert_events = bool(self._subscribers)
            self.node.counter_events = bool(self._subscribers)

    def snapshot(self) -> list[ev.Event]:
        """What an attaching console gets first: the node's past (ended by HistoryEnd),
        then how it is now."""
        now = time.time()
        events: list[ev.Event] = self.history.replay(self.name, now)
        events.append(ev.NodeSeen(now, self.name, agent="haconsole", version=version()))
        if self.node is not None:
            events.extend(self.node.snapshot())
        events.extend(ev.ServiceState(time.time(), self.name, service=name, up=up)
                      for name, up in self._service_states().items())
        return events

    def _service_states(self) -> dict[str, bool]:
        states: dict[str, bool] = {}
        if self.node is None:
            return states
        for tracker in self.node.trackers:
            service = self._service_of_track.get(tracker.name)
            ok = getattr(tracker, "ok", None)
            if service is not None and ok is not None:
                states[service] = bool(ok)
        return states

    def status(self) -> dict[str, Any]:
        node = self.node
        stats = {}
        if node is not None:
            stats = {name: dict(inst.stats) for name, inst in node.instances.items()}
        return {
            "node": self.name,
            "pid": os.getpid(),
            "config": self.options.config_file,
            "uptime": round(time.time() - self.started, 3),
            "events": [e.to_dict() for e in self.snapshot()],
            "stats": stats,
            "services": sorted(self.options.services),
        }

    # ------------------------------------------------------------------ commands
    async def execute(self, request: Request) -> dict[str, Any]:
        """Run one control request (checked by control.py); the reply never raises."""
        cmd = request.cmd
        try:
            if cmd == "status":
                return {"ok": True, **self.status()}
            if cmd == "failover":
                return self._failover(request.instance)
            if cmd == "cancel-hold":
                return self._cancel_hold(request.instance)
            if cmd in ("stop-service", "start-service"):
                return await self._service(cmd, request.service)
            if cmd == "reload":
                ok, detail = await self.reload()
                return {"ok": ok, "detail": detail}
            if cmd == "restart":
                ok, detail = await self.reload(force=True)
                return {"ok": ok, "detail": detail}
            if cmd == "shutdown":
                self.request_stop()
                return {"ok": True, "detail": f"{self.name}: shutting down"}
        except Exception as err:  # a bug must not kill the control connection
            log.exception("control command %s failed", cmd)
            return {"ok": False, "detail": f"{cmd}: internal error: {err}"}
        shown = cmd if len(cmd) <= 40 else cmd[:37] + "..."
        return {"ok": False, "detail": f"unknown command {shown!r}"}

    def _failover(self, instance: str | None) -> dict[str, Any]:
        node = self.node
        if node is None:
            return {"ok": False, "detail": f"{self.name} is not running"}
        names = [instance] if instance else list(node.instances)
        unknown = [n for n in names if n not in node.instances]
        if unknown:
            return {"ok": False, "detail": f"no instance {unknown[0]!r} on {self.name}"}
        released = [n for n in names if node.release(n)]
        if not released:
            return {"ok": False, "detail": f"{self.name} is not MASTER of {', '.join(names)}"}
        hold = self.options.failover_hold
        return {"ok": True, "detail": f"{self.name} released {', '.join(released)} "
                                      f"(priority 0 sent, holding backup {hold:g} s)"}

    def _cancel_hold(self, instance: str | None) -> dict[str, Any]:
        node = self.node
        if node is None:
            return {"ok": False, "detail": f"{self.name} is not running"}
        if instance is not None and instance not in node.instances:
            return {"ok": False, "detail": f"no instance {instance!r} on {self.name}"}
        cancelled = node.cancel_hold(instance)
        if not cancelled:
            return {"ok": False, "detail": f"{self.name} has no failover hold running"}
        return {"ok": True, "detail": f"{self.name} may preempt again "
                                      f"({', '.join(cancelled)})"}

    async def _service(self, cmd: str, service: str | None) -> dict[str, Any]:
        services = self.options.services
        if service is None and len(services) == 1:
            service = next(iter(services))
        if service is None or service not in services:
            known = ", ".join(sorted(services)) or "none configured (--service)"
            return {"ok": False, "detail": f"unknown service {service!r}; known: {known}"}
        start, stop = services[service]
        command = start if cmd == "start-service" else stop
        try:
            status = await asyncio.wait_for(run_script(script_argv(command)), 30)
        except (asyncio.TimeoutError, TimeoutError):
            return {"ok": False, "detail": f"{command!r} timed out after 30 s"}
        except (OSError, ScriptError) as err:
            return {"ok": False, "detail": f"cannot run {command!r}: {err}"}
        up = cmd == "start-service"
        verb = "started" if up else "stopped"
        if status != 0:
            return {"ok": False, "detail": f"{command!r} exited with status {status}"}
        log.info("%s %s by operator", service, verb)
        if service not in self._service_of_track.values():
            self.publish(ev.ServiceState(time.time(), self.name, service=service, up=up))
        return {"ok": True, "detail": f"{service} {verb} on {self.name}"}

    async def reload(self, force: bool = False) -> tuple[bool, str]:
        """Re-read the config; errors keep the running one.

        A changed config is applied as keepalived applies a reload: instances that remain
        keep their state (a master stays master, no failover), removed ones hand over with
        priority 0, new ones start. `force` (the restart command) restarts the whole
        engine instead: masters hand over cleanly with priority 0.
        """
        assert self._lock is not None
        async with self._lock:
            log.info("Reloading")
            try:
                config = self.load()
            except AgentError as err:
                log.error("Reload failed, keeping the running configuration: %s", err)
                return False, f"reload failed, running configuration kept: {err}"
            if not force and config == self.config:
                log.info("Reload: configuration unchanged")
                return True, "configuration unchanged"
            if not force and self.node is not None:
                try:
                    await self._reconfigure(config)
                except AgentError as err:
                    log.error("Reload failed, keeping the running configuration: %s", err)
                    return False, f"reload failed, running configuration kept: {err}"
                return True, "configuration reloaded"
            await self._stop_node()
            try:
                await self._start_node(config)
            except AgentError as err:
                log.error("Reload could not start the new configuration: %s", err)
                self.exit_code = err.code
                self.request_stop()
                return False, str(err)
            return True, "restarted"


def version() -> str:
    try:
        from haconsole import __version__

        return str(__version__)
    except ImportError:
        return "?"
