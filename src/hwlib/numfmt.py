"""Numbers as the book prints them: a true minus sign ("−", U+2212), never a hyphen or e-notation."""

from __future__ import annotations

import numpy as np

MINUS = "\u2212"


def minus(text: str) -> str:
    """``text`` with every hyphen-minus replaced by a true minus sign."""
    return text.replace("-", MINUS)


def num(value: float, digits: int, sign: bool = False) -> str:
    """``value`` with ``digits`` decimals (tables, prose); ``sign`` adds "+" to positive numbers."""
    return minus(f"{value:{'+' if sign else ''}.{digits}f}")


def sig(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, a plain decimal: 0.0000936, −0.252, 262000, 0 (not −0)."""
    return minus(np.format_float_positional(float(value) + 0.0, precision=digits, unique=False,
                                            fractional=False, trim="-"))
