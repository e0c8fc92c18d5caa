"""Welch's two-sample t interval from per-group sums, and the Student t quantile it needs.

Results are aggregated in SQL to three numbers per group (count, sum, sum of squares; SQLite
has no var_samp), so everything here works from those. Pure Python: the t distribution comes
from the regularised incomplete beta function (Lentz's continued fraction, as in Numerical
Recipes 6.4), inverted by bisection; no SciPy.
"""

import dataclasses
import math
from fractions import Fraction
from statistics import NormalDist

CONFIDENCE = 0.95
# Past this many degrees of freedom the t quantile is the normal one to 5 significant
# digits (t(0.975, 100000) = 1.959988 against 1.959964), and the continued fraction would
# need thousands of terms.
NORMAL_DF = 100_000
_EPSILON = 1e-15
_TINY = 1e-300
_MAX_TERMS = 10_000


@dataclasses.dataclass(frozen=True)
class Sample:
    """A group's values summed in SQL: how many, their sum and the sum of their squares.
    Integers (cents, 0/1 outcomes) keep the variance exact."""

    n: int
    total: int | float
    squares: int | float

    @property
    def mean(self) -> float | None:
        return float(Fraction(self.total) / self.n) if self.n else None

    @property
    def variance(self) -> Fraction | None:
        """The sample variance (n - 1 in the denominator); None below two values."""
        if self.n < 2:
            return None
        total = Fraction(self.total)
        spread = Fraction(self.squares) - total * total / self.n
        return max(spread, Fraction(0)) / (self.n - 1)  # float sums may round below zero


@dataclasses.dataclass(frozen=True)
class Difference:
    """mean(a) - mean(b) with its confidence interval (None when a group has fewer than
    two values). With no spread in either group the interval is the point itself."""

    estimate: float
    low: float | None
    high: float | None
    df: float | None  # Welch-Satterthwaite degrees of freedom

    def shifted(self, by: float) -> "Difference":
        """The same interval moved by a constant (e.g. less a fixed cost per customer)."""
        return Difference(self.estimate + by, None if self.low is None else self.low + by,
                          None if self.high is None else self.high + by, self.df)


def welch(a: Sample, b: Sample, *, confidence: float = CONFIDENCE) -> Difference | None:
    """Welch's t interval for mean(a) - mean(b); None when a group is empty."""
    if not a.n or not b.n:
        return None
    estimate = a.mean - b.mean
    if a.variance is None or b.variance is None:
        return Difference(estimate, None, None, None)
    share_a, share_b = a.variance / a.n, b.variance / b.n
    if share_a + share_b == 0:
        return Difference(estimate, estimate, estimate, None)
    se = math.sqrt(share_a + share_b)
    df = float((share_a + share_b) ** 2
               / (share_a ** 2 / (a.n - 1) + share_b ** 2 / (b.n - 1)))
    half = t_quantile((1 + confidence) / 2, df) * se
    return Difference(estimate, estimate - half, estimate + half, df)


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` (> 0, not necessarily whole) degrees of freedom."""
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p, for 0 < p < 1 (bisection to double precision)."""
    if not 0 < p < 1:
        raise ValueError("p must be strictly between 0 and 1")
    if df > NORMAL_DF:
        return NormalDist().inv_cdf(p)
    if p < 0.5:
        return -t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2
    for _step in range(200):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _continued_fraction(a, b, x) / a
    return 1 - front * _continued_fraction(b, a, 1 - x) / b


def _continued_fraction(a: float, b: float, x: float) -> float:
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, _MAX_TERMS):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > _TINY else _TINY)
            c = 1 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            result *= c * d
        if abs(c * d - 1) < _EPSILON:
            break
    return result
