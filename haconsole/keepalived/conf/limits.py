"""keepalived's compile-time constants that its verdicts and defaults depend on."""

from __future__ import annotations

MAXBUF = 1024  # keepalived reads lines in chunks of MAXBUF - 1 bytes
IFNAMSIZ = 16
TIMER_HZ_DIGITS = 6
TIMER_HZ = 1_000_000
TIMER_MAX_SEC = 1000
UINT_MAX = 2**32 - 1
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
ULONG_MAX = 2**64 - 1
MAX_INCLUDE_DEPTH = 32
VRRP_PRIO_OWNER = 255
VRRP_PRIO_DFL = 100
WHITESPACE = " \t\f\n\r\v"
