"""Welch's interval and the t quantile behind it, against published tables and hand sums."""

import math
from statistics import NormalDist

import pytest

from campaigns.services.stats import Difference, Sample, t_cdf, t_quantile, welch

# Two-sided 95% critical values from a t table (any statistics textbook).
T_TABLE = {1: 12.706205, 2: 4.302653, 3: 3.182446, 4: 2.776445, 5: 2.570582, 6: 2.446912,
           10: 2.228139, 20: 2.085963, 30: 2.042272, 60: 2.000298, 120: 1.979930}


def sample(*values: float) -> Sample:
    return Sample(len(values), sum(values), sum(v * v for v in values))


@pytest.mark.parametrize(("df", "expected"), sorted(T_TABLE.items()))
def test_t_quantile_matches_the_t_table(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-6)


def test_t_quantile_is_symmetric_and_inverts_the_cdf():
    assert t_quantile(0.025, 7.5) == pytest.approx(-t_quantile(0.975, 7.5))
    assert t_cdf(t_quantile(0.9, 3.3), 3.3) == pytest.approx(0.9, abs=1e-12)


def test_t_quantile_becomes_the_normal_one_for_huge_samples():
    assert t_quantile(0.975, 10**7) == pytest.approx(NormalDist().inv_cdf(0.975))


def test_sample_variance_uses_n_minus_one():
    assert float(sample(2, 4, 4, 4, 5, 5, 7, 9).variance) == pytest.approx(32 / 7)


def test_welch_interval_matches_a_hand_computation():
    # a: mean 3, variance 2.5 (n 5); b: mean 1, variance 1 (n 3).
    # se^2 = 2.5/5 + 1/3 = 0.8333; df = 0.8333^2 / (0.5^2/4 + 0.3333^2/2) = 5.9459...
    difference = welch(sample(1, 2, 3, 4, 5), sample(0, 1, 2))
    se2 = 2.5 / 5 + 1 / 3
    df = se2 ** 2 / ((2.5 / 5) ** 2 / 4 + (1 / 3) ** 2 / 2)

    assert difference.estimate == 2
    assert difference.df == pytest.approx(df)
    assert difference.low == pytest.approx(2 - t_quantile(0.975, df) * math.sqrt(se2))
    assert difference.high == pytest.approx(2 + t_quantile(0.975, df) * math.sqrt(se2))


def test_welch_without_spread_gives_the_point_itself():
    assert welch(sample(3, 3), sample(1, 1)) == Difference(2, 2, 2, None)


def test_welch_needs_two_values_per_group_for_an_interval():
    assert welch(sample(5), sample(1, 2)) == Difference(3.5, None, None, None)


def test_welch_of_an_empty_group_is_nothing():
    assert welch(Sample(0, 0, 0), sample(1, 2)) is None


def test_an_interval_shifted_by_a_cost_moves_both_ends():
    assert Difference(2, 1, 3, 4.0).shifted(-0.5) == Difference(1.5, 0.5, 2.5, 4.0)
