"""Score thresholds and high marks: the small, pure part of RFM scoring.

Thresholds are stored per dimension as the values earning scores 2, 3, 4 and 5 (recency: the
most days still earning it); None means no customer earns that score. A score is high when it
is strictly greater than the dimension's mark (the population's mean or median score).
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from customers.models import MetricsSettings

from .sql import DIMENSIONS, SCORE_KS


class MetricsSettingsError(ValueError):
    """The operator's metrics settings cannot be used as they are."""


def _number(value: Any, where: str) -> float | int:
    if isinstance(value, bool):
        raise MetricsSettingsError(f"{where} must be a number, not {value!r}")
    if isinstance(value, int | float):
        return value
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        raise MetricsSettingsError(f"{where} must be a number, not {value!r}") from None
    if not parsed.is_finite():
        raise MetricsSettingsError(f"{where} must be a finite number, not {value!r}")
    return int(parsed) if parsed == parsed.to_integral_value() else float(parsed)


def _fixed_dimension(raw: Mapping[str, Any], dim: str) -> list[float | int]:
    values = raw.get(dim)
    where = f"fixed_thresholds.{dim}"
    if not isinstance(values, Sequence) or isinstance(values, str) or len(values) != 4:
        raise MetricsSettingsError(f"{where} must be a list of 4 numbers, got {values!r}")
    numbers = [_number(v, f"{where}[{i}]") for i, v in enumerate(values)]
    if numbers != sorted(numbers):
        raise MetricsSettingsError(f"{where} must be in ascending order, got {values!r}")
    # Settings list recency as [d5, d4, d3, d2]; runs keep every dimension in score order.
    return numbers[::-1] if dim == "recency" else numbers


def fixed_thresholds(settings: MetricsSettings) -> dict[str, list]:
    """The operator's fixed thresholds, validated, in the run's (score 2..5) order."""
    raw = settings.fixed_thresholds
    if not raw:
        raise MetricsSettingsError(
            "RFM scoring is 'fixed' but fixed_thresholds is empty: set "
            '{"recency": [d5, d4, d3, d2], "frequency": [f2, f3, f4, f5], '
            '"monetary": [m2, m3, m4, m5]} in the metrics settings'
        )
    if not isinstance(raw, Mapping) or set(raw) != set(DIMENSIONS):
        keys = sorted(raw) if isinstance(raw, Mapping) else raw
        raise MetricsSettingsError(
            f"fixed_thresholds needs exactly the keys {list(DIMENSIONS)}, got {keys!r}"
        )
    return {dim: _fixed_dimension(raw, dim) for dim in DIMENSIONS}


def thresholds_from_row(row: Sequence[Any]) -> dict[str, list]:
    """Split the quintile query's single row (t2..t5 of each dimension) into JSON values."""
    per_dim = len(SCORE_KS)
    thresholds = {}
    for i, dim in enumerate(DIMENSIONS):
        values = row[i * per_dim:(i + 1) * per_dim]
        as_json = float if dim == "monetary" else int
        thresholds[dim] = [None if v is None else as_json(v) for v in values]
    return thresholds


def score_distribution(buyers: int, at_least: Sequence[int], dim_index: int) -> dict[int, int]:
    """Customers per score 1..5 of one dimension, from the counts earning at least 2..5
    (score_counts() lists them dimension after dimension)."""
    per_dim = len(SCORE_KS)
    cumulative = [buyers, *at_least[dim_index * per_dim:(dim_index + 1) * per_dim], 0]
    return {score: cumulative[score - 1] - cumulative[score] for score in range(1, 6)}


def _median(counts: Mapping[int, int]) -> Fraction:
    n = sum(counts.values())
    middle = {(n - 1) // 2, n // 2}  # the one (odd n) or two (even n) middle positions
    picked, seen = [], 0
    for score in sorted(counts):
        span = range(seen, seen + counts[score])
        picked += [score for position in middle if position in span]
        seen += counts[score]
    return Fraction(sum(picked), len(picked))


def high_marks(buyers: int, at_least: Sequence[int], rule: str) -> dict[str, float | None]:
    """The mark each dimension's score must exceed to be high (the mean or median score of
    the buyers), from score_counts()."""
    marks: dict[str, float | None] = {}
    for i, dim in enumerate(DIMENSIONS):
        counts = {s: c for s, c in score_distribution(buyers, at_least, i).items() if c}
        if not counts:
            marks[dim] = None
        elif rule == MetricsSettings.HighRule.MEDIAN:
            marks[dim] = float(_median(counts))
        else:
            total = sum(score * count for score, count in counts.items())
            marks[dim] = total / sum(counts.values())
    return marks
