"""The book's number style: a true minus sign, never e-notation."""

from __future__ import annotations

import math

import pytest

from hwlib.numfmt import MINUS, minus, num, sig


@pytest.mark.parametrize("value, text", [
    (9.36e-05, "0.0000936"), (-7e-05, "\u22120.00007"), (0.0953, "0.0953"), (-0.252, "\u22120.252"),
    (262_144.0, "262000"), (1.0, "1"), (0.1, "0.1"), (1e-4, "0.0001"), (0.0, "0"), (-0.0, "0"),
    (0.099951, "0.1"), (123.456, "123"),
])
def test_sig_is_a_plain_decimal_with_a_true_minus(value, text):
    assert sig(value) == text


def test_sig_never_writes_e_notation_nor_a_hyphen():
    for exponent in range(-12, 13):
        for mantissa in (1.0, -2.5, 9.99):
            text = sig(mantissa * 10.0**exponent)
            assert "e" not in text and "-" not in text, text
            assert float(text.replace(MINUS, "-")) == pytest.approx(mantissa * 10.0**exponent, rel=5e-3)
    assert sig(math.nan) == "nan" and sig(-math.inf) == f"{MINUS}inf"


def test_num_has_fixed_decimals_and_an_optional_plus():
    assert num(-0.524, 2) == "\u22120.52"
    assert num(1.5, 1, sign=True) == "+1.5" and num(-1.5, 1, sign=True) == "\u22121.5"
    assert minus("[-1, -2]") == "[\u22121, \u22122]"
