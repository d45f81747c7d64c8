"""Regular expressions that Python and ECMA 262 (JSON Schema) read alike, for the grammars the server
checks input against and the OpenAPI document publishes: one pattern, two readers, no drift.

Only ASCII classes: Python's \\d and \\s take Unicode digits and spaces that ECMA 262 does not.
"""

from __future__ import annotations

SPACE = "[ \\t\\n\\r\\f\\v]"  # the whitespace both readers agree on (Python's str.split takes more)


def int_range(low: int, high: int) -> str:
    """A regex for the decimal integers from low to high, leading zeros allowed ("007")."""
    if low > high:
        raise ValueError(f"empty range {low}..{high}")
    if low == 0:
        return f"0*(?:0|{_positive(1, high)})" if high > 0 else "0+"
    return f"0*{_positive(low, high)}"


def _positive(low: int, high: int) -> str:
    """The integers low..high (low >= 1) without leading zeros, as an alternation."""
    parts: list[str] = []
    for lo, hi in _split(low, high):
        parts.append(_same_length(str(lo), str(hi)))
    return "(?:" + "|".join(parts) + ")"


def _split(low: int, high: int) -> list[tuple[int, int]]:
    """low..high cut into ranges whose ends have the same number of digits."""
    ranges = []
    while low <= high:
        top = min(high, 10 ** len(str(low)) - 1)
        ranges.append((low, top))
        low = top + 1
    return ranges


def _same_length(lo: str, hi: str) -> str:
    """The numbers from lo to hi, both of the same length."""
    if lo == hi:
        return lo
    if len(lo) == 1:
        return f"[{lo}-{hi}]"
    if lo[0] == hi[0]:
        return lo[0] + _group(_same_length(lo[1:], hi[1:]))
    parts = []
    rest = len(lo) - 1
    if lo[1:] != "0" * rest:
        parts.append(lo[0] + _group(_same_length(lo[1:], "9" * rest)))
        first = int(lo[0]) + 1
    else:
        first = int(lo[0])
    if hi[1:] != "9" * rest:
        last = int(hi[0]) - 1
        tail = hi[0] + _group(_same_length("0" * rest, hi[1:]))
    else:
        last = int(hi[0])
        tail = ""
    if first <= last:
        digit = str(first) if first == last else f"[{first}-{last}]"
        parts.append(f"{digit}[0-9]{{{rest}}}")
    if tail:
        parts.append(tail)
    return "(?:" + "|".join(parts) + ")"


def _group(pattern: str) -> str:
    return pattern if pattern.startswith("(?:") or len(pattern) == 1 or pattern.startswith("[") else f"(?:{pattern})"


def any_case(word: str) -> str:
    """`word` in any letter case (JSON Schema patterns have no inline flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def whole(pattern: str) -> str:
    """An anchored ^...$ pattern that also refuses a trailing newline.

    In JSON Schema (ECMA 262) `$` is the end of the text, but generators built on Python's `re`
    (hypothesis, hence schemathesis) let `$` match before a final newline and produce "name\\n";
    the negative lookahead, redundant in ECMA 262, stops that.
    """
    return f"^(?:{pattern.removeprefix('^').removesuffix('$')})(?!\\n)$"
