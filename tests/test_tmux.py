"""`haconsole` in a real terminal (tmux), used as a person would: wait for MASTER, press
`f`, see the other node take over, press `q`, and find the shell usable again.

Skipped without tmux, except under HACONSOLE_REQUIRE_NETNS=1 (CI), where it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import need

ROOT = Path(__file__).resolve().parent.parent
BOUND = 20.0


class Tmux:
    """A private tmux server (its own socket), so the user's sessions are never touched."""

    def __init__(self) -> None:
        self.socket = f"haconsole-test-{os.getpid()}"

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True, timeout=10).stdout

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-t", "main")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "main", *keys)

    def current_command(self) -> str:
        return self.run("display-message", "-p", "-t", "main", "#{pane_current_command}").strip()

    def wait(self, predicate: Callable[[str], bool], what: str, timeout: float = BOUND) -> str:
        end = time.monotonic() + timeout
        while True:
            screen = self.capture()
            if predicate(screen):
                return screen
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}; the pane shows:\n{screen}")
            time.sleep(0.1)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10, check=False)


def master_row(node: str) -> Callable[[str], bool]:
    pattern = re.compile(rf"{node}\s+VI_1\s+●\s+MASTER")
    return lambda screen: bool(pattern.search(screen))


def test_haconsole_in_tmux_fails_over_with_f_and_quits_cleanly() -> None:
    need(shutil.which("tmux") is not None, "needs tmux (make test installs it when root)")
    haconsole = Path(sys.executable).parent / "haconsole"
    need(haconsole.exists(), f"needs the console script {haconsole} (pip install -e .)")
    tmux = Tmux()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
           "TERM": "xterm-256color", "PS1": "$ ", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    shell = "env -i " + " ".join(f"{k}='{v}'" for k, v in env.items()) + \
        " bash --norc --noprofile"
    try:
        tmux.run("new-session", "-d", "-s", "main", "-x", "120", "-y", "36", "-c", str(ROOT),
                 shell)
        tmux.wait(lambda s: "$" in s, "the shell prompt")
        tmux.keys(str(haconsole), "Enter")
        tmux.wait(master_row("nginx1"), "nginx1 MASTER")
        tmux.keys("f")
        screen = tmux.capture()
        if "confirm" in screen.lower():
            tmux.keys("y")
        screen = tmux.wait(master_row("nginx2"), "nginx2 MASTER after f")
        assert "fail over VI_1 away from nginx1" in screen  # the stopwatch's cause
        tmux.keys("q")
        tmux.wait(lambda s: tmux.current_command() == "bash", "haconsole to exit", 10)
        tmux.keys("echo exit-status-$?", "Enter")  # typed text echoes: the tty is sane
        screen = tmux.wait(lambda s: "exit-status-0" in s, "the shell to answer (status 0)")
        assert "MASTER" not in screen  # the alternate screen is gone, the shell is back
    finally:
        tmux.kill()
