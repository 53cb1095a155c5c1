"""regviz.validate: each check returns the value it accepts and raises a ValueError naming the value and the rule."""
import math
import re

import pytest

from regviz.validate import check_choice, check_int, check_number, check_probability


class TestCheckInt:
    """Ints at or above ``low`` pass; bools, floats and smaller ints do not."""

    def test_accepts_and_returns(self):
        assert check_int("epochs", 1) == 1 and check_int("seed", 0, low=0) == 0

    @pytest.mark.parametrize("value", [0, -3, True, 2.0, "3", None])
    def test_refuses(self, value):
        with pytest.raises(ValueError, match="^" + re.escape(f"epochs={value!r} must be an int >= 1") + "$"):
            check_int("epochs", value)


class TestCheckNumber:
    """Finite reals in the interval pass (as floats); the message names the interval and whether it is closed."""

    def test_accepts_and_returns_a_float(self):
        out = check_number("lr", 3)
        assert out == 3.0 and isinstance(out, float)
        assert check_number("x", 1.0, low=0.0, high=1.0) == 1.0  # high is inclusive by default
        assert check_number("x", -2.5, low=-math.inf) == -2.5

    @pytest.mark.parametrize("value", [-0.1, math.nan, math.inf, True, "0.1", None])
    def test_refuses_outside_or_not_a_number(self, value):
        with pytest.raises(ValueError, match=r"must be a finite number >= 0$"):
            check_number("lr", value)

    def test_open_and_closed_upper_ends(self):
        with pytest.raises(ValueError, match=r"^x=1\.0 must be a finite number in \[0, 1\)$"):
            check_number("x", 1.0, high=1.0, high_inclusive=False)
        with pytest.raises(ValueError, match=r"^x=1\.5 must be a finite number in \[0, 1\]$"):
            check_number("x", 1.5, high=1.0)


class TestCheckProbability:
    """A probability may be 0 but not 1."""

    def test_half_open_interval(self):
        assert check_probability("p", 0) == 0.0 and check_probability("p", 0.999) == 0.999
        for bad in (1, 1.0, -1e-9):
            with pytest.raises(ValueError, match=r"^p=.* must be a finite number in \[0, 1\)$"):
                check_probability("p", bad)


class TestCheckChoice:
    """A value from the allowed ones passes unchanged; the message lists what is allowed, in order."""

    def test_accepts_from_any_iterable(self):
        assert check_choice("optimizer", "sgd", ("adamw", "sgd")) == "sgd"
        assert check_choice("k", 2, (n for n in range(3))) == 2  # a generator is read once

    def test_refuses_with_the_allowed_list(self):
        with pytest.raises(ValueError, match=r"^optimizer='adam'; allowed: adamw, sgd$"):
            check_choice("optimizer", "adam", ["adamw", "sgd"])
