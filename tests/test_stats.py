"""regviz.stats against numpy and scipy."""
import math

import numpy as np
import pytest
from scipy import stats as sps

from regviz.stats import binomial_se, difference, paired_difference, summarize, table


class TestSummarize:
    def test_against_numpy(self):
        """mean, sd (ddof=1) and se agree with numpy / scipy.stats.sem."""
        v = [0.81, 0.84, 0.79, 0.86]
        s = summarize(v)
        assert s.mean == pytest.approx(np.mean(v)) and s.sd == pytest.approx(np.std(v, ddof=1))
        assert s.se == pytest.approx(sps.sem(v)) and s.n == 4
        assert s.format() == f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}"

    def test_single_value(self):
        s = summarize([0.5])
        assert s.sd == 0 and math.isnan(s.se)

    @pytest.mark.parametrize("bad,match", [([], "at least 1"), ([1.0, float("nan")], "non-finite"),
                                           (["x"], "sequence of numbers")])
    def test_errors(self, bad, match):
        with pytest.raises(ValueError, match=match):
            summarize(bad)


class TestDifference:
    def test_welch_statistic(self):
        """diff / se is Welch's t (scipy.stats.ttest_ind with equal_var=False)."""
        a, b = [0.90, 0.91, 0.93], [0.85, 0.88, 0.86, 0.87]
        d = difference(a, b)
        assert d.diff == pytest.approx(np.mean(a) - np.mean(b))
        assert d.z == pytest.approx(sps.ttest_ind(a, b, equal_var=False).statistic)
        assert d.beyond_noise

    def test_within_noise(self):
        d = difference([0.90, 0.95, 0.85], [0.91, 0.86, 0.94])
        assert not d.beyond_noise and "within noise" in str(d)

    def test_zero_spread(self):
        assert difference([1.0, 1.0], [0.0, 0.0]).beyond_noise
        assert not difference([1.0, 1.0], [1.0, 1.0]).beyond_noise

    def test_needs_two_seeds(self):
        with pytest.raises(ValueError, match="at least 2"):
            difference([0.9], [0.8, 0.7])


class TestPairedDifference:
    def test_paired_t(self):
        """diff / se is the paired t statistic (scipy.stats.ttest_rel); pairing can pass where Welch cannot."""
        a, b = [0.519, 0.500, 0.538], [0.541, 0.525, 0.547]
        d = paired_difference(a, b)
        assert d.z == pytest.approx(sps.ttest_rel(a, b).statistic)
        assert d.beyond_noise and not difference(a, b).beyond_noise

    def test_lengths_must_match(self):
        with pytest.raises(ValueError, match="one value per seed"):
            paired_difference([1, 2, 3], [1, 2])


def test_binomial_se():
    assert binomial_se(0.9, 1000) == pytest.approx(math.sqrt(0.09 / 1000))
    with pytest.raises(ValueError, match="n=0"):
        binomial_se(0.9, 0)
    with pytest.raises(ValueError, match="not in"):
        binomial_se(1.5, 10)


def test_table():
    out = table({"p=0": [0.8, 0.82], "p=0.5": [0.85, 0.86, 0.87]})
    assert out.splitlines()[1].startswith("p=0.5  0.860 ± 0.010  (n=3)")
