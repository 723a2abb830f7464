"""keepalived's notify FIFO as the SSH collector's first word on transitions, and where the
collector finds what it reads on a node (the configuration, the dumps, the release).

The FIFO's format is keepalived's vrrp_notify.c (the same in 2.2.7 and 2.4.3); the
scripts (`facts_script`, `fifo_script`) run here for real in a local `sh`, on a real
process and a real FIFO. keepalived itself writing the FIFO, over a real sshd, is
tests/netns/test_ssh_integration.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from haconsole.cluster import events as ev
from haconsole.config import GlobalDefs
from haconsole.keepalived.conf import Environment, parse_text
from haconsole.keepalived.dump import DumpPaths, InstanceSnapshot
from haconsole.keepalived.fifo import REASON, FifoLine, fifo_events, parse_fifo_line
from haconsole.sources.inventory import NodeSpec, parse_inventory
from haconsole.sources.keepalived_facts import (
    DEFAULT_CONFIG,
    NodeFacts,
    config_from_cmdline,
    config_path,
    facts_script,
    fifo_choice,
    fifo_script,
    parse_facts,
    read_global_defs,
)
from haconsole.sources.keepalived_remote import poll_script
from haconsole.sources.keepalived_ssh import KeepalivedSource

T = 1_800_000_000.0


# ---------------------------------------------------------------------------------------
# The line format
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "parsed"), [
    ('INSTANCE "VI_1" MASTER 100', FifoLine("INSTANCE", "VI_1", "MASTER", 100)),
    ('INSTANCE "VI_1" BACKUP 90\n', FifoLine("INSTANCE", "VI_1", "BACKUP", 90)),
    ('INSTANCE "web vip" FAULT 0', FifoLine("INSTANCE", "web vip", "FAULT", 0)),
    ('INSTANCE "VI_1" MASTER_PRIORITY 80', FifoLine("INSTANCE", "VI_1", "MASTER_PRIORITY", 80)),
    ('INSTANCE "VI_1" BACKUP_PRIORITY 70', FifoLine("INSTANCE", "VI_1", "BACKUP_PRIORITY", 70)),
    ('INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100',
     FifoLine("INSTANCE", "VI_1", "MASTER_RX_LOWER_PRI", 100)),
    ('INSTANCE "VI_1" DELETED 100', FifoLine("INSTANCE", "VI_1", "DELETED", 100)),
    ('GROUP "G1" BACKUP 0', FifoLine("GROUP", "G1", "BACKUP", 0)),
    ("INSTANCE VI_1 MASTER 100", None),  # no quotes: not keepalived's
    ('INSTANCE "VI_1" MASTER', None),
    ("", None),
    ('VRRP "VI_1" MASTER 100', None),
])
def test_fifo_lines(line: str, parsed: FifoLine | None) -> None:
    assert parse_fifo_line(line) == parsed


def events(line: str, state: ev.State | None = None, priority: int | None = None
           ) -> list[ev.Event]:
    parsed = parse_fifo_line(line)
    assert parsed is not None
    return fifo_events(parsed, node="n1", t=T, state=state, priority=priority, base=100)


def test_fifo_lines_become_the_changes_they_say() -> None:
    assert events('INSTANCE "VI_1" MASTER 100', ev.State.BACKUP, 100) == [
        ev.Transition(T, "n1", "VI_1", ev.State.BACKUP, ev.State.MASTER, REASON)]
    assert events('INSTANCE "VI_1" DELETED 100', ev.State.MASTER)[0].new == ev.State.STOP
    assert events('INSTANCE "VI_1" MASTER 100', None)[0].old == ev.State.INIT
    assert events('INSTANCE "VI_1" MASTER 100', ev.State.MASTER) == []  # no news
    assert events('INSTANCE "VI_1" MASTER_PRIORITY 80', ev.State.MASTER, 100) == [
        ev.PriorityChange(T, "n1", "VI_1", 100, 80, 100)]
    assert events('INSTANCE "VI_1" MASTER_PRIORITY 80', ev.State.MASTER, 80) == []
    assert events('INSTANCE "VI_1" MASTER_PRIORITY 80', ev.State.MASTER, None) == []
    assert events('INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100', ev.State.MASTER, 100) == []
    assert events('GROUP "G1" MASTER 0', ev.State.BACKUP) == []


# ---------------------------------------------------------------------------------------
# What the configuration says: FIFOs, dumps
# ---------------------------------------------------------------------------------------

GLOBALS = """global_defs {
    router_id n1
    state_dump_file /run/keepalived/state.data
    json_version 2
    notify_fifo /run/keepalived/all.fifo root root
    notify_fifo_script "/usr/local/bin/relay fifo"
    vrrp_notify_fifo /run/keepalived/haconsole.fifo
    vrrp_notify_priority_changes
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.100
    }
}
"""


def test_the_configuration_model_keeps_what_the_collector_reads() -> None:
    defs = parse_text(GLOBALS).config.global_defs
    assert defs.state_dump_file == "/run/keepalived/state.data"
    assert defs.json_version == 2
    assert (defs.notify_fifo, defs.notify_fifo_script) == ("/run/keepalived/all.fifo",
                                                           "/usr/local/bin/relay fifo")
    assert defs.vrrp_notify_fifo == "/run/keepalived/haconsole.fifo"
    assert defs.vrrp_notify_fifo_script is None
    assert defs.vrrp_notify_priority_changes is True
    # keepalived 2.2.7 does not know state_dump_file nor json_version: unknown keywords
    old = parse_text(GLOBALS, env=Environment(version="2.2.7"))
    assert old.config.global_defs.state_dump_file is None
    assert old.config.global_defs.json_version == 1
    assert any("state_dump_file" in f.message for f in old.findings)
    off = parse_text(GLOBALS.replace("vrrp_notify_priority_changes",
                                     "vrrp_notify_priority_changes false"))
    assert off.config.global_defs.vrrp_notify_priority_changes is False
    bad = parse_text(GLOBALS.replace("vrrp_notify_fifo /run/keepalived/haconsole.fifo",
                                     "vrrp_notify_fifo"))
    assert any(f.message == "No vrrp_notify_fifo name specified" for f in bad.findings)


def test_the_fifo_read_is_one_no_script_reads() -> None:
    defs = parse_text(GLOBALS).config.global_defs
    assert fifo_choice(defs) == ("/run/keepalived/haconsole.fifo", "")
    only_scripted = GlobalDefs(notify_fifo="/run/a.fifo", notify_fifo_script="/bin/relay")
    path, why = fifo_choice(only_scripted)
    assert path == "" and "notify_fifo is read by its notify_fifo_script" in why
    assert "vrrp_notify_fifo PATH" in why
    assert fifo_choice(GlobalDefs(notify_fifo="/run/a.fifo")) == ("/run/a.fifo", "")
    assert fifo_choice(GlobalDefs())[1] == \
        "keepalived.conf names no notify_fifo or vrrp_notify_fifo"


def test_global_defs_read_as_the_nodes_release_reads_them() -> None:
    text = GLOBALS + "include /etc/keepalived/conf.d/*.conf\n@n1 include /x.conf\n"
    assert read_global_defs(text, "/etc/keepalived/keepalived.conf", "2.4.3"
                            ).state_dump_file == "/run/keepalived/state.data"
    assert read_global_defs(text, "k.conf", "2.2.7").state_dump_file is None
    assert read_global_defs(text, "k.conf", "").vrrp_notify_fifo is not None


@pytest.mark.parametrize(("argv", "config"), [
    (["keepalived", "-f", "/etc/k/a.conf"], "/etc/k/a.conf"),
    (["keepalived", "-n", "-l", "-D", "-f/etc/k/b.conf"], "/etc/k/b.conf"),
    (["keepalived", "-nlDf", "/etc/k/c.conf", "-p", "/run/k.pid"], "/etc/k/c.conf"),
    (["keepalived", "--use-file", "/etc/k/d.conf"], "/etc/k/d.conf"),
    (["keepalived", "--use-file=/etc/k/e.conf"], "/etc/k/e.conf"),
    (["keepalived", "--use=/etc/k/f.conf"], "/etc/k/f.conf"),  # getopt_long's prefix
    (["keepalived", "-p", "-f", "-f", "/etc/k/g.conf"], "/etc/k/g.conf"),  # -p's is "-f"
    (["keepalived", "-pf"], None),  # a pidfile named "f"
    (["keepalived", "-n", "-l", "-D"], None),
    (["keepalived", "--", "-f", "/x"], None),
    (["keepalived", "--umask", "022"], None),
    (["/usr/sbin/keepalived", "-g/var/log/k.log", "-f", "/k.conf"], "/k.conf"),
])
def test_the_configuration_of_a_command_line(argv: list[str], config: str | None) -> None:
    assert config_from_cmdline(argv) == config


def test_which_configuration_is_read() -> None:
    spec = NodeSpec("n1", "n1")
    running = NodeFacts(pid="42", argv=("keepalived", "-f", "conf/k.conf"), cwd="/srv/ka")
    assert config_path(spec, running) == "/srv/ka/conf/k.conf"
    assert config_path(spec, NodeFacts(pid="42", argv=("keepalived", "-f", "k.conf"))) \
        == "/proc/42/cwd/k.conf"
    assert config_path(spec, NodeFacts()) == DEFAULT_CONFIG
    assert config_path(NodeSpec("n1", "n1", config="/etc/other.conf"), running) == \
        "/etc/other.conf"


def test_inventory_keys() -> None:
    inv = parse_inventory('[[node]]\nname = "n1"\nconfig = "/etc/k.conf"\n'
                          'notify_fifo = true\n[[node]]\nname = "n2"\n')
    assert (inv.nodes[0].config, inv.nodes[0].notify_fifo) == ("/etc/k.conf", True)
    assert (inv.nodes[1].config, inv.nodes[1].notify_fifo) == ("", False)
    with pytest.raises(Exception, match=r"node\.notify_fifo: expected true or false"):
        parse_inventory('[[node]]\nname = "n1"\nnotify_fifo = "yes"\n')


def test_the_poll_loop_reads_the_dumps_where_they_are() -> None:
    script = poll_script(NodeSpec("n1", "n1"), "abc123",
                         DumpPaths(json="/var/tmp/k/keepalived.json",
                                   data="/run/keepalived/state's.data",
                                   stats="/var/tmp/k/keepalived.stats"))
    assert "rm -f /var/tmp/k/keepalived.json" in script
    assert "'/run/keepalived/state'\"'\"'s.data'" in script  # quoted
    assert "/tmp/keepalived.data" not in script
    subprocess.run(["sh", "-n", "-c", script], check=True)  # valid sh


# ---------------------------------------------------------------------------------------
# The scripts, run for real
# ---------------------------------------------------------------------------------------

def test_facts_of_a_running_process(tmp_path: Path) -> None:
    """pid, command line (one word per line: a word with a space stays one), working
    directory and $TMPDIR, read from /proc; the release of a binary that is no
    keepalived is unknown."""
    name = f"hc-facts-{os.getpid()}"
    child = subprocess.Popen([name, "30"], executable="sleep", cwd=tmp_path,
                             env={**os.environ, "TMPDIR": "/var/tmp/ka tmp"})
    try:
        (tmp_path / "k.pid").write_text(f"{child.pid}\n")
        spec = NodeSpec("n1", "n1", pidfile=str(tmp_path / "k.pid"))
        out = subprocess.run(["sh", "-c", facts_script(spec, "abc123")], capture_output=True,
                             text=True, timeout=10).stdout
        facts = parse_facts(out, "abc123")
        assert facts.pid == str(child.pid)
        assert facts.argv == (name, "30")
        assert facts.cwd == str(tmp_path)
        assert facts.tmp_dir == "/var/tmp/ka tmp"
    finally:
        child.kill()
        child.wait()
    gone = parse_facts(subprocess.run(["sh", "-c", facts_script(spec, "abc123")],
                                      capture_output=True, text=True, timeout=10).stdout,
                       "abc123")
    assert gone.pid == "" and gone.argv == ()


def test_facts_name_the_release() -> None:
    text = ("abc pid 42\nabc version\nKeepalived v2.4.3 (07/20,2026)\n\nCopyright\n"
            "abc argv\n/usr/sbin/keepalived\n-n\n\nabc cwd\n/\nabc tmpdir\nabc end\n")
    facts = parse_facts(text, "abc")
    assert (facts.pid, facts.release, facts.argv, facts.cwd, facts.tmp_dir) == (
        "42", "2.4.3", ("/usr/sbin/keepalived", "-n"), "/", "")


class _Fifo:
    """A FIFO held open read-write, as keepalived holds its notify FIFO."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)

    def write(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())

    def close(self) -> None:
        os.close(self.fd)


def _reader(script: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["sh", "-c", script], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, bufsize=1,
                            start_new_session=True)


def _line(proc: subprocess.Popen[str], timeout: float = 5.0) -> str:
    """The next line within `timeout`."""
    stdout = proc.stdout
    assert stdout is not None
    result: list[str] = []
    thread = threading.Thread(target=lambda: result.append(stdout.readline()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert result, f"no line within {timeout} s"
    return result[0].rstrip("\n")


@contextlib.contextmanager
def reading(script: str) -> Iterator[subprocess.Popen[str]]:
    proc = _reader(script)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait()


def test_the_fifo_reader_ends_with_its_session(tmp_path: Path) -> None:
    """Its stdin closed (the SSH channel), no reader is left on the FIFO to take the
    lines of the next session's."""
    fifo = _Fifo(tmp_path / "notify.fifo")
    try:
        proc = _reader(fifo_script(str(fifo.path), "abc123"))
        try:
            assert _line(proc) == "abc123 open"
            assert proc.stdin is not None
            proc.stdin.close()
            assert proc.wait(5) is not None
            fifo.write('INSTANCE "VI_1" MASTER 90')  # still there: nobody took it
            assert os.read(fifo.fd, 100) == b'INSTANCE "VI_1" MASTER 90\n'
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait()
    finally:
        fifo.close()


def test_the_fifo_reader_drains_the_backlog_then_follows(tmp_path: Path) -> None:
    """What keepalived wrote while nobody read is old news: drained unread. Then each line
    as it is written; when keepalived closes the FIFO (a restart) and makes it anew, the
    reader opens the new one."""
    fifo = _Fifo(tmp_path / "notify.fifo")
    fifo.write('INSTANCE "VI_1" BACKUP 90')  # before we came
    fifo.write('INSTANCE "VI_1" MASTER 90')
    try:
        with reading(fifo_script(str(fifo.path), "abc123")) as proc:
            assert _line(proc) == "abc123 open"
            fifo.write('INSTANCE "VI_1" BACKUP 90')
            assert _line(proc) == 'INSTANCE "VI_1" BACKUP 90'
            # a restart: keepalived closes and unlinks its FIFO, and makes another
            fifo.close()
            fifo.path.unlink()
            fifo = _Fifo(fifo.path)
            assert _line(proc) == "abc123 open"
            fifo.write('INSTANCE "VI_1" MASTER 90')
            assert _line(proc) == 'INSTANCE "VI_1" MASTER 90'
    finally:
        fifo.close()


def test_the_fifo_reader_waits_for_a_fifo_to_come(tmp_path: Path) -> None:
    path = tmp_path / "later.fifo"
    with reading(fifo_script(str(path), "abc123")) as proc:
        assert _line(proc) == "abc123 missing"
        fifo = _Fifo(path)
        try:
            assert _line(proc) == "abc123 open"
            fifo.write('INSTANCE "VI_1" FAULT 90')
            assert _line(proc) == 'INSTANCE "VI_1" FAULT 90'
        finally:
            fifo.close()


# ---------------------------------------------------------------------------------------
# The collector: the FIFO first, the log and the dumps agree with it
# ---------------------------------------------------------------------------------------

class _Stream:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    async def _iter(self) -> AsyncIterator[str]:
        for line in self.lines:
            yield line + "\n"
            await asyncio.sleep(0)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iter()

    async def read(self) -> str:
        return ""


class _Proc:
    def __init__(self, lines: list[str]) -> None:
        self.stdout = _Stream(lines)
        self.stderr = _Stream([])


def snap(state: str, effective: int = 100) -> InstanceSnapshot:
    code = {"MASTER": 2, "BACKUP": 1}[state]
    return InstanceSnapshot("VI_1", 51, code, state, 100, effective)


async def test_the_collector_takes_the_fifo_first_and_the_log_adds_only_news() -> None:
    node = KeepalivedSource(NodeSpec("n1", "n1", notify_fifo=True))
    seen: list[ev.Event] = []
    node._publish = seen.append
    node._states["VI_1"] = ev.State.BACKUP
    node.snapshots = {"VI_1": snap("BACKUP")}
    node._effective["VI_1"] = 100
    await node._fifo_loop(_Proc(["abc open", 'INSTANCE "VI_1" MASTER 100',
                                 'INSTANCE "VI_1" MASTER 100', 'GROUP "G" MASTER 0',
                                 'INSTANCE "VI_1" MASTER_PRIORITY 80', "junk"]), "abc ")  # type: ignore[arg-type]
    changes = [e for e in seen if isinstance(e, ev.Transition | ev.PriorityChange)]
    assert [(type(e).__name__, getattr(e, "new", None)) for e in changes] == [
        ("Transition", ev.State.MASTER), ("PriorityChange", 80)]
    assert len(node.fifo_read) == 4 and node._poll_now.is_set()  # a poll: VIPs, counters
    # the log says the same a moment later: the transition is not repeated; the priority
    # change comes again with its cause, which the FIFO could not say
    for line in ("Mon Nov 30 18:56:00 2026: (VI_1) Receive advertisement timeout",
                 "Mon Nov 30 18:56:00 2026: (VI_1) Entering MASTER STATE",
                 "Mon Nov 30 18:56:01 2026: VRRP_Script(chk) failed (exited with status 1)",
                 "Mon Nov 30 18:56:01 2026: (VI_1) Changing effective priority from 100 "
                 "to 80"):
        node._log_line(line)
    changes = [e for e in seen if isinstance(e, ev.Transition | ev.PriorityChange)]
    assert [type(e).__name__ for e in changes] == ["Transition", "PriorityChange",
                                                   "PriorityChange"]
    assert isinstance(changes[-1], ev.PriorityChange) and "chk failed" in changes[-1].cause
    assert any(isinstance(e, ev.LogLine) and "notify FIFO n" not in e.text for e in seen)
    assert time.time() - changes[0].t < 5  # stamped on arrival
