"""`python -m haconsole.probe [--rate N] [--timeout S] URL[=VIP]...`: probe and print each
request as a JSON line (a `ClientRequest` event) until interrupted. The namespace lab runs
it in its client namespace; the console reads the lines."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Sequence

from haconsole.cluster import events as ev
from haconsole.probe.http import TargetError
from haconsole.probe.runner import DEFAULT_RATE, DEFAULT_TIMEOUT, ClientProbe, ProbeTarget


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m haconsole.probe")
    parser.add_argument("targets", nargs="+", metavar="URL[=VIP]")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    parser.add_argument("--client", default="client")
    args = parser.parse_args(argv)
    try:
        targets = [ProbeTarget.parse(*spec.split("=", 1)) for spec in args.targets]
    except TargetError as err:
        print(f"haconsole probe: {err}", file=sys.stderr)
        return 2

    def emit(event: ev.Event) -> None:
        try:
            sys.stdout.write(json.dumps(event.to_dict()) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            raise SystemExit(0) from None

    async def run() -> None:
        probe = ClientProbe(targets, emit, client=args.client, rate=args.rate,
                            timeout=args.timeout)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        probe.start()
        try:
            await stop.wait()
        finally:
            await probe.stop()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
