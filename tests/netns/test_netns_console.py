"""`haconsole lab --netns` as the console: real namespaces, real VRRP, real clients.

Driven two ways, as the demo is used: through Textual's Pilot (the app on the lab's
console source, asserting on the fold) and in a real terminal (tmux, keys as a person
types them, asserting on what the screen shows and on what is left afterwards). The haconsole
pair and the mixed pair (`--keepalived nginx2`: keepalived read by `connect`'s collector
over the local transport) both: a MASTER appears; `s` on the master moves it; the
Clients panel shows failed requests and an outage between 1 and 6 s (nginx stopped under
a `weight -20` check: about Master_Down_Interval); `q` removes every namespace, process
and file of the lab. And the ways a session ends badly: SIGHUP (the terminal closes) tears
it down too; a SIGKILLed console's lab is removed by the next start.

The first tests need no root: the keys and the help of a console that cannot do
everything.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import need, need_lab
from rich.console import Console

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.console.actions import BY_ACTION, Target
from haconsole.console.screens import HelpScreen
from haconsole.netns.topology import list_namespaces, ns_pids

ROOT = Path(__file__).resolve().parent.parent.parent
BOUND = 30.0  # seconds: generous, CI has two cores shared with everything else


# ----------------------------------------------------------------------------- no root


def _view(*events: ev.Event) -> ClusterView:
    view = ClusterView()
    view.apply_all(events)
    return view


def _state(node: str, state: ev.State) -> ev.InstanceState:
    return ev.InstanceState(1.0, node, instance="VI_1", vrid=100, state=state,
                            base_priority=100, effective_priority=100)


def test_l_takes_the_link_down_then_up_once_the_node_is_in_fault() -> None:
    build = BY_ACTION["link"].build
    running = _view(ev.NodeSeen(0.0, "n1"), _state("n1", ev.State.MASTER))
    assert build(running, Target("n1", "VI_1"), set()) == cmd.LinkDown("n1", True)
    fault = _view(ev.NodeSeen(0.0, "n1"), _state("n1", ev.State.FAULT))
    assert build(fault, Target("n1", "VI_1"), set()) == cmd.LinkDown("n1", False)
    assert cmd.LinkDown("n1").lab_only and cmd.LinkDown("n1").describe() == \
        "take n1's link down"


def test_k_boots_a_node_whose_instances_all_stopped() -> None:
    """A keepalived node's collector still answers when keepalived is gone: its
    instances in STOP say the engine is down, so `k` boots it rather than kill again."""
    build = BY_ACTION["kill"].build
    up = _view(ev.NodeSeen(0.0, "n1"), _state("n1", ev.State.BACKUP))
    assert build(up, Target("n1", "VI_1"), set()) == cmd.KillNode("n1")
    stopped = _view(ev.NodeSeen(0.0, "n1"), _state("n1", ev.State.STOP))
    assert build(stopped, Target("n1", "VI_1"), set()) == cmd.StartNode("n1")


def test_the_help_says_what_this_console_cannot_do_and_where_it_can() -> None:
    help_screen = HelpScreen(readonly=False, confirm=False, hidden={"link", "cancel_hold"})
    table = help_screen._keys()
    out = Console(width=160, file=io.StringIO(), record=True)
    out.print(table)
    text = out.export_text()
    assert re.search(r"l +take the selected node's link down .* not here: needs a real NIC: "
                     r"the namespace lab", text)
    assert "not here: needs a haconsole agent" in text
    # read-only: every action is off, and the note says so once, not per key
    readonly = Console(width=160, file=io.StringIO(), record=True)
    readonly.print(HelpScreen(readonly=True, confirm=False, hidden=set(BY_ACTION))._keys())
    assert "not here" not in readonly.export_text()


def test_the_in_process_lab_refuses_a_link_down_and_the_netns_lab_runs_it() -> None:
    from haconsole.lab.definition import load_lab
    from haconsole.lab.lab import InProcessLab
    from haconsole.netns.source import LAB_COMMANDS

    assert not InProcessLab(load_lab()).supports(cmd.LinkDown)
    assert cmd.LinkDown in LAB_COMMANDS


# ----------------------------------------------------------------------------- Pilot

ENGINES = {
    "haconsole-pair": {},
    "mixed-pair": {"nginx2": "keepalived"},
}


def _lab(tmp_path: Path, engines: dict[str, str]) -> Any:
    from haconsole.lab.definition import load_lab
    from haconsole.netns.lab import NetnsLab, lab_configs

    need_lab(keepalived="keepalived" in engines.values())
    need(shutil.which("nsenter") is not None, "needs nsenter (util-linux)")
    return NetnsLab(lab_configs(load_lab()), engines=engines,  # type: ignore[arg-type]
                    workdir=tmp_path / "lab", private_tmp=True)


async def _until(pilot: Any, predicate: Callable[[], Any], what: str,
                 timeout: float = BOUND) -> Any:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.1)


def _screen(app: Any) -> str:
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(),
                      record=True, force_terminal=True, color_system="truecolor")
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


@pytest.mark.parametrize("engines", list(ENGINES.values()), ids=list(ENGINES))
async def test_console_on_the_real_lab_s_moves_the_master_and_clients_see_the_outage(
        tmp_path: Path, engines: dict[str, str]) -> None:
    from haconsole.netns.cli import _console_app
    from haconsole.netns.source import NetnsConsoleSource

    lab = _lab(tmp_path, engines)
    try:
        lab.start()
        source = NetnsConsoleSource(lab)
        app = _console_app()([source], cluster="nginx pair", kind="netns", confirm=False)
        async with app.run_test(size=(130, 40)) as pilot:
            # The designed master (priority 100), not whoever won the first election:
            # if nginx2's engine came up first it is MASTER for a moment, and
            # nginx1's preemption then costs the client a request of its own.
            master, other = "nginx1", "nginx2"
            await _until(pilot, lambda: app.view.master_of("VI_1") == master,
                         f"{master} MASTER")
            await _until(pilot, lambda: app.view.clients and all(
                c.last_ok_t for c in app.view.clients.values()), "the client's first answer")
            client = next(iter(app.view.clients.values()))
            assert app.table.select((master, "VI_1"))
            pressed = time.time()
            await pilot.press("s")
            await _until(pilot, lambda: app.view.master_of("VI_1") == other,
                         f"{other} MASTER after s", timeout=BOUND)
            try:
                outage = await _until(pilot, lambda: next(
                    (o for o in client.outages if o.start >= pressed), None),
                    "the clients' outage after s to end")
            except AssertionError as err:
                seen = [(round(t - pressed, 3), ok, by, e) for t, ok, by, e in client.results
                        if t >= pressed - 2]
                raise AssertionError(
                    f"{err}; s at {pressed:.3f}; outages {list(client.outages)}; since "
                    f"{client.outage_since}; requests from 2 s before s: {seen[:40]} ... "
                    f"{seen[-20:]}; vips {app.view.vips}") from None
            # nginx stopped under `weight -20`: refused until the backup's
            # Master_Down_Interval (3.6 s) has run out, then answered by the new master
            assert 1000 <= outage.ms <= 6000, outage
            assert outage.failed > 0
            assert any(not ok and err == "refused" for _t, ok, _by, err in client.results)
            rec = await _until(pilot, lambda: next(
                (r for r in reversed(app.view.failovers) if r.client_outage), None),
                "the stopwatch to pin the outage on the failover")
            assert rec.new_master == other and "stop nginx on " + master in rec.cause
            await _until(pilot, lambda: re.search(r"clients saw [\d\u2009 ]+ ms",
                                                  _screen(app)), "clients saw N ms")
            assert client.last_served_by == other
            await pilot.press("q")
        assert lab.nodes[master].engine in ("haconsole", "keepalived")
    finally:
        lab.stop()
    assert not [ns for ns in list_namespaces() if ns.startswith(lab.topology.prefix)]


async def test_keys_act_on_the_real_lab_kill_link_partition(tmp_path: Path) -> None:
    """k (SIGKILL: no priority 0, the backup waits Master_Down_Interval) and boot; l
    (no carrier: FAULT) and up; p (cut off with the link up: both MASTER, split brain)
    and heal — on a keepalived node read by the collector."""
    from haconsole.netns.cli import _console_app
    from haconsole.netns.source import NetnsConsoleSource

    lab = _lab(tmp_path, {"nginx1": "keepalived"})
    try:
        lab.start()
        app = _console_app()([NetnsConsoleSource(lab, probe=False)], cluster="pair",
                             kind="netns", confirm=False)
        async with app.run_test(size=(130, 40)) as pilot:
            await _until(pilot, lambda: app.view.master_of("VI_1") == "nginx1", "nginx1")

            def state(node: str) -> Any:
                inst = app.view.instances.get((node, "VI_1"))
                return inst.state if inst is not None else None

            assert app.table.select(("nginx1", "VI_1"))
            await pilot.press("l")
            await _until(pilot, lambda: state("nginx1") == ev.State.FAULT, "nginx1 FAULT")
            await _until(pilot, lambda: app.view.master_of("VI_1") == "nginx2", "nginx2")
            await pilot.press("l")
            await _until(pilot, lambda: state("nginx1") != ev.State.FAULT, "link up")
            await _until(pilot, lambda: app.view.master_of("VI_1") == "nginx1", "back")

            await pilot.press("k")
            await _until(pilot, lambda: state("nginx1") == ev.State.STOP, "keepalived gone")
            assert not [p for p in ns_pids(lab.ns("nginx1"))
                        if Path(f"/proc/{p}/comm").read_text().strip() == "keepalived"]
            await _until(pilot, lambda: app.view.master_of("VI_1") == "nginx2", "takeover")
            await pilot.press("k")  # every instance stopped: k boots it
            await _until(pilot, lambda: app.view.master_of("VI_1") == "nginx1", "booted")

            await pilot.press("p")
            await _until(pilot, lambda: state("nginx2") == ev.State.MASTER and
                         state("nginx1") == ev.State.MASTER, "split brain")
            await pilot.press("p")
            await _until(pilot, lambda: state("nginx2") == ev.State.BACKUP, "healed")
            failed = [t for t in app.toasts if t[0] == "error"]
            assert not failed, failed
    finally:
        lab.stop()


async def test_a_scenario_runs_on_the_real_lab(tmp_path: Path) -> None:
    """`--scenario` as on the simulated lab: the steps' commands on the real nodes."""
    from haconsole.lab.definition import load_lab
    from haconsole.lab.scenario import parse_scenario
    from haconsole.netns.cli import _console_app
    from haconsole.netns.source import NetnsConsoleSource

    lab = _lab(tmp_path, {})
    try:
        lab.start()
        steps = parse_scenario("4:failover nginx1; 5:halt nginx2", load_lab())
        app = _console_app()([NetnsConsoleSource(lab, probe=False)], cluster="pair",
                             kind="netns", confirm=False, steps=steps)
        async with app.run_test(size=(130, 40)) as pilot:
            await _until(pilot, lambda: app.view.master_of("VI_1") == "nginx1", "nginx1")
            rec = await _until(pilot, lambda: next(
                (r for r in app.view.failovers if r.new_master == "nginx2"), None),
                "the scenario's failover")
            assert "fail over VI_1 away from nginx1" in rec.cause
            # halt nginx2 (priority 0): nginx1 takes over, its hold does not delay that
            await _until(pilot, lambda: app.view.master_of("VI_1") == "nginx1" and
                         lab.nodes["nginx2"].proc is None, "nginx2 halted, nginx1 back")
            await pilot.press("ctrl+c")  # quits here (the lab must not outlive it)
            await _until(pilot, lambda: app.return_value == 0, "the console to quit")
    finally:
        lab.stop()


# ----------------------------------------------------------------------------- tmux


class Tmux:
    """A private tmux server running one shell, as a person's terminal."""

    def __init__(self, name: str) -> None:
        self.socket = f"haconsole-netns-{os.getpid()}-{name}"

    def run(self, *args: str, check: bool = True) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=check,
                              capture_output=True, text=True, timeout=10).stdout

    def start(self, command: str) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root",
               "TERM": "xterm-256color", "PS1": "$ ", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        shell = "env -i " + " ".join(f"{k}='{v}'" for k, v in env.items()) + \
            " bash --norc --noprofile"
        self.run("new-session", "-d", "-s", "main", "-x", "130", "-y", "40", "-c", str(ROOT),
                 shell)
        self.wait(lambda s: "$" in s, "the shell prompt")
        self.keys(command, "Enter")

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-t", "main")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "main", *keys)

    def console_pid(self) -> int:
        """The console's pid: the shell's child."""
        shell = int(self.run("display-message", "-p", "-t", "main", "#{pane_pid}").strip())
        out = subprocess.run(["pgrep", "-P", str(shell)], capture_output=True, text=True)
        pids = [int(p) for p in out.stdout.split()]
        assert pids, "the console is not running"
        return pids[0]

    def wait(self, predicate: Callable[[str], Any], what: str, timeout: float = BOUND) -> str:
        end = time.monotonic() + timeout
        while True:
            screen = self.capture()
            if predicate(screen):
                return screen
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}; the pane shows:\n{screen}")
            time.sleep(0.2)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10, check=False)


def _master_row(node: str) -> Callable[[str], bool]:
    pattern = re.compile(rf"{node}\s+VI_1\s+●\s+MASTER")
    return lambda screen: bool(pattern.search(screen))


def _lab_left(pid: int) -> tuple[list[str], list[int], list[Path]]:
    """What a console with this pid left: namespaces, their processes, work directories."""
    prefix = f"hac-{pid}-"
    spaces = [ns for ns in list_namespaces() if ns.startswith(prefix)]
    pids = [p for ns in spaces for p in ns_pids(ns)]
    dirs = [p for p in Path("/tmp").glob(f"{prefix}*") if p.is_dir()]
    return spaces, pids, dirs


def _wait_gone(pid: int, timeout: float = BOUND) -> None:
    end = time.monotonic() + timeout
    while True:
        alive = Path(f"/proc/{pid}").exists() and \
            Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        left = _lab_left(pid)
        if not alive and not any(left):
            return
        if time.monotonic() > end:
            raise AssertionError(f"console {pid} alive={alive}, left behind: {left}")
        time.sleep(0.2)


def _need_console() -> Path:
    need_lab()
    need(shutil.which("tmux") is not None, "needs tmux (make test installs it when root)")
    need(shutil.which("nsenter") is not None, "needs nsenter (util-linux)")
    haconsole = Path(sys.executable).parent / "haconsole"
    need(haconsole.exists(), f"needs the console script {haconsole} (pip install -e .)")
    return haconsole


@pytest.fixture
def tmux(request: pytest.FixtureRequest) -> Iterator[Tmux]:
    term = Tmux(request.node.name[-20:].replace("[", "-").replace("]", ""))
    try:
        yield term
    finally:
        term.kill()


@pytest.mark.parametrize("extra", ["", "--keepalived nginx2"], ids=["haconsole", "mixed"])
def test_lab_netns_in_a_terminal_s_fails_over_clients_see_it_q_removes_it_all(
        tmux: Tmux, extra: str) -> None:
    haconsole = _need_console()
    tmux.start(f"{haconsole} lab --netns {extra} --theme light".strip())
    tmux.wait(_master_row("nginx1"), "nginx1 MASTER", timeout=60)
    pid = tmux.console_pid()
    assert any(_lab_left(pid)), "the lab is not where it should be"
    tmux.wait(lambda s: re.search(r"192\.0\.2\.170\s+\d+\s+100%\s+nginx1", s),
              "the clients answered by nginx1")
    tmux.keys("s")
    screen = tmux.wait(lambda s: re.search(r"clients saw [\d\u2009 ]+ ms", s),
                       "the stopwatch's client outage", timeout=45)
    assert _master_row("nginx2")(screen)
    seen = re.search(r"clients saw ([\d\u2009 ]+) ms of errors \((\d+) requests failed\)",
                     screen)
    assert seen, screen
    ms = int(re.sub(r"\D", "", seen.group(1)))
    assert 1000 <= ms <= 6000 and int(seen.group(2)) > 0, screen
    assert "theme light" in screen
    tmux.keys("q")
    _wait_gone(pid)
    tmux.keys("echo exit-status-$?", "Enter")
    tmux.wait(lambda s: "exit-status-0" in s, "the shell back, status 0")


def test_sighup_when_the_terminal_closes_removes_the_lab(tmux: Tmux, tmp_path: Path) -> None:
    haconsole = _need_console()
    recording = tmp_path / "demo.rec"
    tmux.start(f"{haconsole} lab --netns -n 3 --readonly --record {recording}")
    screen = tmux.wait(_master_row("nginx1"), "nginx1 MASTER", timeout=60)
    assert "nginx3" in screen and "READ-ONLY" in screen
    pid = tmux.console_pid()
    tmux.kill()  # the terminal is gone: the kernel hangs up the console's session
    _wait_gone(pid)
    assert recording.stat().st_size > 0  # the recorder was closed on the way out too


def test_a_sigkilled_console_leaves_its_lab_and_the_next_start_removes_it(
        tmux: Tmux) -> None:
    haconsole = _need_console()
    tmux.start(f"{haconsole} lab --netns")
    tmux.wait(_master_row("nginx1"), "nginx1 MASTER", timeout=60)
    pid = tmux.console_pid()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    spaces, procs, dirs = _lab_left(pid)
    assert spaces and procs and dirs  # nothing could clean up after SIGKILL...
    tmux.kill()
    again = Tmux("again")
    try:
        again.start(f"{haconsole} lab --netns")
        again.wait(_master_row("nginx1"), "nginx1 MASTER", timeout=60)
        assert not any(_lab_left(pid)), _lab_left(pid)  # ...the next start did
        second = again.console_pid()
        again.keys("q")
        _wait_gone(second)
    finally:
        again.kill()
