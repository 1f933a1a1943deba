"""Numbers as the book prints them: a true minus sign ("−", U+2212), never a hyphen, and
never e-notation.

:func:`num` writes a fixed number of decimals (tables, prose); :func:`sig` a number of
significant digits as a plain decimal (figure titles and tick labels, whose values range
from 0.0000936 to 262,144).
"""

from __future__ import annotations

import numpy as np

MINUS = "\u2212"


def minus(text: str) -> str:
    """``text`` with every hyphen-minus replaced by a true minus sign."""
    return text.replace("-", MINUS)


def num(value: float, digits: int, sign: bool = False) -> str:
    """``value`` with ``digits`` decimals and a true minus sign; ``sign`` adds "+" to
    positive numbers (differences)."""
    return minus(f"{value:{'+' if sign else ''}.{digits}f}")


def sig(value: float, digits: int = 3) -> str:
    """``value`` rounded to ``digits`` significant digits, as a plain decimal with a true
    minus sign: 0.0000936, −0.252, 0.1, 262000 (never "9.36e-05"); a zero has no sign."""
    return minus(np.format_float_positional(float(value) + 0.0, precision=digits, unique=False,
                                            fractional=False, trim="-"))
