"""VRRP's timers, in one place: Skew_Time and Master_Down_Interval for v2 and v3.

Why one module: the core's takeover times, the console's "no master for too long" alarm
and the config checker must agree to the microsecond, and the v2 / v3 rules differ in
a way that is easy to get wrong when recomputed in floats:

- RFC 5798 §6.1 (VRRPv3): Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256,
  with the interval in centiseconds on the wire; a backup learns Master_Adver_Interval
  from the master's adverts.
- RFC 3768 §6.1 (VRRPv2): Skew_Time = (256 - Priority) / 256 seconds, whatever the
  advertisement interval, which is whole seconds (keepalived rounds, minimum 1 s).
- Both: Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.

The core counts integer microseconds with keepalived's arithmetic (TIMER_HZ = 1e6);
`master_down_interval` gives the same figure in seconds for display.
"""

from __future__ import annotations

US = 1_000_000  # microseconds per second: keepalived's TIMER_HZ


def advert_interval_us(version: int, advert_int: float) -> int:
    """The Advertisement_Interval an instance runs with, from its `advert_int` seconds:
    v3 keeps fractions (at least 10 ms); v2 rounds to whole seconds (at least 1 s)."""
    if version == 2:
        return max(US, round(advert_int) * US)
    return max(10_000, round(advert_int * US))


def skew_time_us(version: int, master_adver_int_us: int, priority: int) -> int:
    """RFC Skew_Time in µs, with keepalived's integer arithmetic."""
    if version == 3:
        return (256 - priority) * (master_adver_int_us // 10_000) * 625 // 16
    return (256 - priority) * US // 256


def master_down_us(version: int, master_adver_int_us: int, priority: int) -> int:
    """RFC Master_Down_Interval in µs: 3 * Master_Adver_Interval + Skew_Time."""
    return 3 * master_adver_int_us + skew_time_us(version, master_adver_int_us, priority)


def master_down_interval(version: int, advert_int: float, priority: int) -> float:
    """Master_Down_Interval in seconds of an instance advertising every `advert_int`
    seconds with this (effective) priority; one outside 1..255 (unknown) is clamped."""
    prio = max(1, min(255, priority))
    return master_down_us(version, advert_interval_us(version, advert_int), prio) / US
