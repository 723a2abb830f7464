"""One HTTP request through a VIP, classified the way an operator talks about it.

Why hand-rolled on asyncio streams: one connection per request (a new TCP handshake each
time, so ARP and the VIP's owner are exercised, not a kept-alive socket to the old master),
a hard deadline over the whole exchange, and the outcome as a short word (refused,
timeout, reset, unreachable, `http 503`) rather than an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD = 8192  # bytes of status line and headers we read
MAX_BODY = 256  # bytes of body we read (the lab's nginx answers with its node name)


class TargetError(ValueError):
    """A probe target that is not an http:// URL with a host."""


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise TargetError(f"probe target {url!r}: expected http://HOST[:PORT][/PATH]")
        try:
            port = parts.port or 80
        except ValueError:
            raise TargetError(f"probe target {url!r}: bad port") from None
        path = parts.path or "/"
        if parts.query:
            path += f"?{parts.query}"
        return cls(url, parts.hostname, port, path)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int = 0  # the HTTP status, 0 when none came back
    served_by: str = ""  # the node that answered (X-Node header, else a one-word body)
    error: str = ""  # "" when ok; refused | timeout | reset | unreachable | http NNN | ...
    latency: float = 0.0  # seconds until the answer (or the failure)


async def request(target: Target, timeout: float = 0.2) -> Outcome:
    """GET `target` on a new connection; never raises for network trouble."""
    began = time.monotonic()
    writer: asyncio.StreamWriter | None = None

    def done(**kw: object) -> Outcome:
        return Outcome(latency=time.monotonic() - began, **kw)  # type: ignore[arg-type]

    try:
        async with asyncio.timeout(timeout) if hasattr(asyncio, "timeout") else \
                _deadline(timeout):
            reader, writer = await asyncio.open_connection(target.host, target.port)
            host = f"[{target.host}]" if ":" in target.host else target.host
            writer.write(f"GET {target.path} HTTP/1.1\r\nHost: {host}\r\n"
                         "User-Agent: haconsole-probe\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status, headers = _parse_head(head[:MAX_HEAD])
            body = await reader.read(MAX_BODY)
    except (asyncio.TimeoutError, TimeoutError):
        return done(ok=False, error="timeout")
    except ConnectionRefusedError:
        return done(ok=False, error="refused")
    except (ConnectionResetError, asyncio.IncompleteReadError, BrokenPipeError):
        return done(ok=False, error="reset")
    except asyncio.LimitOverrunError:
        return done(ok=False, error="bad answer (headers too long)")
    except ValueError as err:
        return done(ok=False, error=f"bad answer ({err})")
    except OSError as err:
        if err.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return done(ok=False, error="unreachable")
        return done(ok=False, error=err.strerror or type(err).__name__)
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 0.05)
    served_by = headers.get("x-node", "")
    if not served_by:
        words = body.decode("utf-8", "replace").split()
        served_by = words[0] if len(words) == 1 and len(words[0]) <= 64 else ""
    if 200 <= status < 400:
        return done(ok=True, status=status, served_by=served_by)
    return done(ok=False, status=status, served_by=served_by, error=f"http {status}")


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    words = lines[0].split(" ", 2)
    if len(words) < 2 or not words[0].startswith("HTTP/") or not words[1].isdigit():
        raise ValueError(f"not an HTTP status line: {lines[0][:40]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(words[1]), headers


@contextlib.asynccontextmanager
async def _deadline(seconds: float):  # type: ignore[no-untyped-def]
    """asyncio.timeout for Python 3.10: cancel the enclosed work after `seconds`."""
    task = asyncio.current_task()
    assert task is not None
    handle = asyncio.get_running_loop().call_later(seconds, task.cancel)
    try:
        yield
    except asyncio.CancelledError:
        raise asyncio.TimeoutError from None
    finally:
        handle.cancel()
