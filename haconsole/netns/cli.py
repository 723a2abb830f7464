"""`haconsole lab --netns`: build the real lab, open the console on it, tear it down.

Wired by haconsole.cli: `add_arguments(lab_parser)` adds the netns-only flags and
`main_netns_lab(args)` runs it with the lab flags (`-n`, `--config`, `--scenario`,
`--theme`, `--readonly`; `--text` and `--duration` for the merged logs instead).

The console is the one of the simulated lab and of `connect`, on `netns.source`: the
lab's agents, keepalived nodes and client probe, read as in production, and keys that act
on the real processes and links. However it ends — `q`, Ctrl-C, SIGTERM, SIGHUP (the
terminal closed, SSH dropped), a crash of the console — every namespace, process and file
of the lab is removed before the process exits (a second signal does not interrupt
that); a lab left by a killed console (SIGKILL) is removed at the next start
(`topology.cleanup_stale`: namespaces and work directories named after a dead pid).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

#: The signals that end the lab (SIGHUP: the terminal or the SSH session is gone).
ENDING = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keepalived", nargs="+", default=[], metavar="NODE",
                        help="with --netns: run the Debian keepalived on these nodes "
                             "instead of the haconsole agent")


CAP_SYS_ADMIN = 21  # mounting /run/netns, setns()


def _preflight(keepalived: bool) -> str | None:
    if os.geteuid() != 0:
        return "lab --netns needs root (it creates network namespaces)"
    from haconsole.agent.daemon import CAP_NET_ADMIN, effective_capabilities

    caps = effective_capabilities()
    missing = [name for bit, name in ((CAP_SYS_ADMIN, "CAP_SYS_ADMIN (creating namespaces)"),
                                      (CAP_NET_ADMIN, "CAP_NET_ADMIN (veths and addresses)"))
               if caps is not None and not caps & (1 << bit)]
    if missing:
        return ("lab --netns needs " + " and ".join(missing) + ", which this process lacks "
                "(in a container: run it privileged, or use the in-process `haconsole lab`)")
    # keepalived nodes get a private /tmp (unshare, nsenter: util-linux) for their dumps
    programs = ["ip", "nginx", "curl"] + (["keepalived", "unshare", "nsenter"]
                                          if keepalived else [])
    for program in programs:
        if shutil.which(program) is None and not Path("/usr/sbin", program).exists():
            return f"lab --netns needs {program} (make test installs it when root)"
    return None


class _Tail:
    """Follows the engines' log files and prints new lines prefixed with the node."""

    def __init__(self, files: dict[str, Path], out: TextIO) -> None:
        self.files = files
        self.out = out
        self.offsets = dict.fromkeys(files, 0)
        self.width = max((len(n) for n in files), default=4)

    def poll(self) -> None:
        for node, path in self.files.items():
            try:
                with path.open("r", errors="replace") as f:
                    f.seek(self.offsets[node])
                    data = f.read()
                    self.offsets[node] = f.tell()
            except OSError:
                continue
            for line in data.splitlines():
                if line and not line.startswith("--- start"):
                    print(f"{node:<{self.width}} | {line}", file=self.out)
        self.out.flush()


def main_netns_lab(args: argparse.Namespace) -> int:
    from haconsole.config import ConfigError
    from haconsole.lab.definition import load_lab
    from haconsole.lab.scenario import ScenarioError, parse_scenario
    from haconsole.netns.lab import NetnsLab, lab_configs
    from haconsole.netns.topology import NetnsError

    keepalived = list(getattr(args, "keepalived", []) or [])
    problem = _preflight(bool(keepalived))
    if problem:
        print(f"haconsole: {problem}", file=sys.stderr)
        return 2
    try:
        definition = load_lab(getattr(args, "config", None), nodes=getattr(args, "nodes", None))
        scenario = getattr(args, "scenario", None)
        steps = parse_scenario(scenario, definition) if scenario else []
    except ConfigError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    except ScenarioError as err:
        print(f"haconsole: --scenario: {err}", file=sys.stderr)
        return 2
    configs = lab_configs(definition)
    unknown = [n for n in keepalived if n not in configs]
    if unknown:
        print(f"haconsole: --keepalived: no node {unknown[0]!r} in the lab "
              f"(nodes: {', '.join(configs)})", file=sys.stderr)
        return 2
    text = bool(getattr(args, "text", False)) or not sys.stdout.isatty()
    asked = [f"--{name}" for name in ("record", "metrics") if getattr(args, name, None)]
    if text and asked:
        # text mode tails the engines' log files: there are no events to record or count
        verb = "need" if len(asked) > 1 else "needs"
        print(f"haconsole: lab --netns: {' and '.join(asked)} {verb} the console, and this "
              "is text mode (--text, or stdout is not a terminal)", file=sys.stderr)
        return 2
    themes: Any = None
    extras: Any = None
    theme = getattr(args, "theme", None)
    if not text:
        from haconsole.console.cli import console_extras, console_themes

        try:
            themes, theme = console_themes(theme)
            # --record FILE, --metrics PORT: around the console, as on the simulated lab
            extras = console_extras(args, [f"netns lab {definition.name}"])
        except ValueError as err:
            print(f"haconsole: {err}", file=sys.stderr)
            return 2
    # The console reads keepalived's dumps: each keepalived node gets a /tmp of its own.
    lab = NetnsLab(configs, engines=dict.fromkeys(keepalived, "keepalived"),
                   private_tmp=not text,
                   fast_preempt=[n.name for n in definition.nodes if n.fast_preempt])
    if not text:
        try:
            return _run_console(lab, definition, steps, theme=theme, themes=themes,
                                readonly=bool(getattr(args, "readonly", False)),
                                extras=extras)
        finally:
            extras.close()

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = {sig: signal.signal(sig, terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        print(f"haconsole: building {definition.name} in namespaces {lab.topology.prefix}*",
              file=sys.stderr)
        lab.start()
        _print_summary(lab, definition)
        tail = _Tail({n: node.log for n, node in lab.nodes.items()}, sys.stdout)
        duration = getattr(args, "duration", None)
        start = time.monotonic()
        pending = list(steps)
        while duration is None or time.monotonic() - start < duration:
            while pending and time.monotonic() - start >= pending[0].at:
                step = pending.pop(0)
                ok, detail = lab.execute(step.command)
                print(f"[haconsole] {step.command.describe()}: "
                      f"{'done' if ok else 'FAILED'} - {detail}", flush=True)
            tail.poll()
            time.sleep(0.2)
        tail.poll()
    except KeyboardInterrupt:
        print("\nhaconsole: tearing the lab down", file=sys.stderr)
    except (OSError, RuntimeError, TimeoutError, NetnsError) as err:
        print(f"haconsole: lab --netns failed: {err}", file=sys.stderr)
        return 1
    finally:
        with _signals_ignored():
            lab.stop()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return 0


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Teardown is not interrupted: a second Ctrl-C, SIGTERM or SIGHUP waits for it."""
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in ENDING}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _say(text: str) -> None:
    """A line on stderr, unless the terminal is gone (SIGHUP): nothing may stop teardown."""
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr, flush=True)


class _Interrupted(BaseException):
    """A signal came while the lab was being built (before the console could take it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _run_console(lab: Any, definition: Any, steps: Sequence[Any], *, theme: str | None,
                 themes: Any, readonly: bool, extras: Any = None) -> int:
    """Build the lab, run the console on it, tear the lab down whatever happens."""
    from haconsole.netns.source import NetnsConsoleSource

    def interrupted(signum: int, frame: object) -> None:
        raise _Interrupted(signum)

    old = {sig: signal.signal(sig, interrupted) for sig in ENDING}
    status = 0
    app: Any = None
    source: NetnsConsoleSource | None = None
    try:
        _say(f"haconsole: building {definition.name} in namespaces {lab.topology.prefix}* "
             "(real nginx and VRRP; q quits and removes it all)")
        lab.start()
        source = NetnsConsoleSource(lab)
        app = _console_app()([source], cluster=definition.name,
                             kind="netns", theme=theme, themes=themes, readonly=readonly,
                             confirm=False, steps=steps,
                             observers=extras.observers if extras else (),
                             services=extras.services if extras else ())
        result = app.run()
        if app.signalled:
            status = 128 + app.signalled
        else:  # a crash inside the app ends run() with return code 1, not an exception
            status = int(result or 0) or int(app.return_code or 0)
    except _Interrupted as err:
        status = 128 + err.signum
    except KeyboardInterrupt:
        status = 130
    except Exception as err:  # a crash of the console: the lab goes anyway
        _say(f"haconsole: lab --netns failed: {type(err).__name__}: {err}")
        status = 1
    finally:
        with _signals_ignored():
            _say("haconsole: tearing the lab down")
            if source is not None:
                source.runner.close()
            lab.stop()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return status


def _console_app() -> Any:
    """The console app for the lab: HAConsoleApp that also quits on Ctrl-C and on the
    signals that end a session (the lab must not outlive them)."""
    from textual.binding import Binding

    from haconsole.console.app import HAConsoleApp

    class NetnsConsoleApp(HAConsoleApp):
        CSS_PATH = str(Path(inspect.getfile(HAConsoleApp)).with_name("console.tcss"))
        BINDINGS = [*HAConsoleApp.BINDINGS,
                    Binding("ctrl+c", "quit", "quit", show=False)]

        signalled = 0

        def on_mount(self) -> None:
            # (Textual runs HAConsoleApp.on_mount too: handlers are called along the MRO)
            loop = asyncio.get_running_loop()
            for sig in ENDING:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self._on_signal, sig)

        def _on_signal(self, signum: int) -> None:
            self.signalled = self.signalled or signum
            self.run_worker(self.action_quit(), group="quit", exit_on_error=False)

    return NetnsConsoleApp


def _print_summary(lab: object, definition: object) -> None:
    from haconsole.netns.lab import NetnsLab

    assert isinstance(lab, NetnsLab)
    print("node      engine      namespace                     address       control")
    for name, node in lab.nodes.items():
        control = node.control if node.engine == "haconsole" else "-"
        print(f"{name:<9} {node.engine:<11} {lab.ns(name):<29} {lab.ipv4(name):<13} {control}")
    vips = sorted({str(v.ip) for c in (n.config for n in lab.nodes.values())
                   for i in c.vrrp_instances for v in i.virtual_ipaddress})
    client = lab.topology.ns("client")
    for vip in vips:
        print(f"try: ip netns exec {client} curl http://{vip}/")
    print("Ctrl-C tears everything down.", flush=True)
