"""Whole numbers as JSON writes them: `2`, `2.0` and `2e0` are the same integer to a client."""

from __future__ import annotations


def whole_number(value: object) -> int | None:
    """The integer `value` stands for, in any JSON number form; None for fractions and non-numbers.

    Some JSON encoders (JavaScript's for a computed number, Go's float64 fields) write whole
    numbers as `2.0`; refusing those would refuse correct clients. Booleans are not numbers.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def describe(value: object) -> str:
    """How a refused value is quoted back in an error message (short, never the whole input)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def digits(text: str) -> bool:
    """Whether text is ASCII digits only: str.isdigit also takes "³" and "١", which int() refuses
    or reads as another number."""
    return text.isascii() and text.isdigit()
