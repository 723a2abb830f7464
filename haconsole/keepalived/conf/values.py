"""Reading keepalived's values as its C code does: numbers, yes/no, words, addresses.

The quirks are the point: a number keepalived half-parses, an unterminated quote, a C
escape each give the verdicts and values keepalived gives.
"""

from __future__ import annotations

import ipaddress
import re

from haconsole.config import IPAddress
from haconsole.keepalived.conf.limits import (
    IFNAMSIZ,
    INT_MAX,
    INT_MIN,
    TIMER_HZ_DIGITS,
    UINT_MAX,
    ULONG_MAX,
    WHITESPACE,
)

# -- numbers ------------------------------------------------------------------------------


_INT_RE = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]*)")


def _strtol(text: str) -> tuple[int, int]:
    """C strtol/strtoul base 10 without the range clamp: (value, characters consumed)."""
    m = _INT_RE.match(text)
    if m is None or not m.group(2):
        return 0, 0
    value = int(m.group(2))
    return (-value if m.group(1) == "-" else value), m.end()


def read_int(text: str, lo: int, hi: int) -> tuple[bool, int, str | None]:
    """read_int_func in config-test mode: (ok, value as stored, error message)."""
    value, used = _strtol(text)
    if used < len(text):
        return False, _c_int(value), f"invalid number '{text}'"
    if not INT_MIN <= value <= INT_MAX:
        return False, _c_int(value), f"number '{text}' outside integer range"
    if not lo <= value <= hi:
        return False, value, f"number '{text}' outside range [{lo}, {hi}]"
    return True, value, None


def _c_int(value: int) -> int:
    """The C cast (int)long: keep the low 32 bits, signed."""
    value &= 0xFFFFFFFF
    return value - 2**32 if value > INT_MAX else value


def read_unsigned(text: str, lo: int, hi: int) -> tuple[bool, int, str | None]:
    """read_unsigned_func in config-test mode."""
    stripped = text.lstrip(WHITESPACE)
    value, used = _strtol(stripped)
    if stripped.startswith("-"):
        return False, 0, f"negative number '{text}'"
    if used < len(stripped):
        return False, value & UINT_MAX, f"invalid number '{text}'"
    if value > UINT_MAX:
        return False, value & UINT_MAX, f"number '{text}' outside unsigned integer range"
    if not lo <= value <= hi:
        return False, value, f"number '{text}' outside range [{lo}, {hi}]"
    return True, value, None


def read_decimal(
    text: str, lo: int, hi: int, shift: int = TIMER_HZ_DIGITS
) -> tuple[bool, int, list[str]]:
    """read_decimal_unsigned_long_func: a fixed-point number, value * 10**shift.

    Unlike the integer readers, keepalived returns True here for an unparsable number
    whose leading digits happen to be in range (it forgets config-test mode).
    """
    msgs: list[str] = []
    if text.startswith("-"):
        return False, 0, [f"negative number '{text}'"]
    dot = text.find(".")
    places = len(text) - dot - 1 if dot >= 0 else 0
    round_up = False
    if places > shift:
        msgs.append(f"number '{text}' has too many decimal places")
        round_up = text[dot + shift + 1] >= "5"
        places = shift
    digits = text[:dot] + text[dot + 1 : dot + 1 + places] if dot >= 0 else text
    digits += "0" * (shift - places)
    value, used = _strtol(digits)
    if digits.lstrip(WHITESPACE).startswith("-"):
        value = (-value) & ULONG_MAX
    value += 1 if round_up else 0
    if used < len(digits):
        msgs.append(f"invalid number '{text}'")
    elif value > ULONG_MAX:
        msgs.append(f"number '{text}' outside unsigned decimal range")
        return False, value, msgs
    elif not lo <= value <= hi:
        unit = 10**shift
        msgs.append(
            f"number '{text}' outside range [{lo // unit}.{lo % unit:0{shift}d}, "
            f"{hi // unit}.{hi % unit:0{shift}d}]"
        )
    else:
        return True, value, msgs
    return lo <= value <= hi, value, msgs


def true_false(word: str) -> bool | None:
    """check_true_false: on/true/yes, off/false/no, anything else None."""
    if word in ("true", "on", "yes"):
        return True
    if word in ("false", "off", "no"):
        return False
    return None

# -- words --------------------------------------------------------------------------------


_PLAIN_WORD = re.compile(r'[^ \t\f\n\r\v"]+')


def split_words(text: str) -> tuple[list[str], bool]:
    """alloc_strvec: blank-separated words, "..." as one word. (words, quote unmatched)."""
    if '"' not in text:
        return _PLAIN_WORD.findall(text), False
    out: list[str] = []
    n = len(text)
    i = _skip_blanks(text, 0)
    while i < n:
        if text[i] == '"':
            close = text.find('"', i + 1)
            if close < 0:
                return out, True
            out.append(text[i + 1 : close])
            j = close + 1
        else:
            j = i
            while j < n and text[j] not in WHITESPACE and text[j] != '"':
                j += 1
            out.append(text[i:j])
        i = _skip_blanks(text, j)
    return out, False


_ESCAPES = {"a": "\a", "b": "\b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
            "v": "\v"}


def split_quoted(text: str) -> tuple[list[str], str | None]:
    """alloc_strvec_quoted_escaped: '...' and "..." quoting plus C escapes.

    Returns (words, error) where error names the missing quote character.
    """
    out: list[str] = []
    n = len(text)
    i = _skip_blanks(text, 0)
    while i < n:
        word: list[str] = []
        quote = ""
        while i < n:
            ch = text[i]
            if ch == "\\":
                if i + 1 >= n:
                    return [], None
                i, decoded = _escape(text, i + 1)
                word.append(decoded)
                continue
            if quote:
                if ch == quote:
                    quote = ""
                else:
                    word.append(ch)
                i += 1
                continue
            if ch in "\"'":
                quote = ch
                i += 1
                continue
            if ch in WHITESPACE:
                break
            word.append(ch)
            i += 1
        if quote:
            return out, quote
        out.append("".join(word))
        i = _skip_blanks(text, i)
    return out, None


def _skip_blanks(text: str, i: int) -> int:
    """Where the next word starts (len(text) if none does)."""
    while i < len(text) and text[i] in WHITESPACE:
        i += 1
    return i


def _escape(text: str, i: int) -> tuple[int, str]:
    ch = text[i]
    if ch == "x" and i + 1 < len(text) and text[i + 1] in "0123456789abcdefABCDEF":
        j = i + 1
        while j < len(text) and text[j] in "0123456789abcdefABCDEF":
            j += 1
        return j, chr(int(text[i + 1 : j], 16) & 0xFF)
    if ch == "c" and i + 1 < len(text):
        return i + 2, chr(ord(text[i + 1]) & 0x1F)
    if ch in "01234567":
        j = i
        while j < len(text) and j < i + 3 and text[j] in "01234567":
            j += 1
        return j, chr(int(text[i:j], 8) & 0xFF)
    return i + 1, _ESCAPES.get(ch, ch)


# -- commands -----------------------------------------------------------------------------
def cmd_str(args: list[str]) -> str:
    """keepalived's cmd_str(): each word in single quotes (a leading < or > excepted)."""
    out = []
    for i, word in enumerate(args):
        out.append(word if i == 0 and word[:1] in "<>" and word else f"'{word}'")
    return " ".join(out)


def cmd_line(args: list[str]) -> str:
    """The command as a shell would read it back (for display and the model)."""
    return " ".join(a if a and not any(c in a for c in " \t'\"\\") else repr(a) for a in args)


# -- addresses and interface names --------------------------------------------------------
def is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def parse_ip(text: str) -> IPAddress | None:
    """inet_stosockaddr/inet_pton: a bare IPv4 or IPv6 address (no %scope)."""
    if "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def ifname_fits(name: str) -> bool:
    """Whether `name` fits an interface name (IFNAMSIZ bytes with the final NUL)."""
    return len(name.encode("utf-8", "surrogateescape")) < IFNAMSIZ
