"""The benchmarks' quantile of a Prometheus histogram, as histogram_quantile computes it."""

from __future__ import annotations

import math

from bench.stats import histogram_buckets, histogram_quantile

METRICS = """# HELP x_seconds How long.
# TYPE x_seconds histogram
x_seconds_bucket{le="0.01"} 50.0
x_seconds_bucket{le="0.02"} 90.0
x_seconds_bucket{le="0.04"} 100.0
x_seconds_bucket{le="+Inf"} 100.0
x_seconds_count 100.0
"""


def test_buckets_are_read_by_upper_bound() -> None:
    assert histogram_buckets(METRICS, "x_seconds") == {0.01: 50.0, 0.02: 90.0, 0.04: 100.0, math.inf: 100.0}


def test_quantiles_interpolate_within_their_bucket() -> None:
    buckets = histogram_buckets(METRICS, "x_seconds")
    assert histogram_quantile(buckets, 0.5) == 0.01
    assert math.isclose(histogram_quantile(buckets, 0.7), 0.015)
    assert math.isclose(histogram_quantile(buckets, 0.99), 0.038)


def test_a_quantile_in_the_open_bucket_is_the_last_bound_and_none_is_nan() -> None:
    assert histogram_quantile({0.01: 1.0, math.inf: 10.0}, 0.99) == 0.01
    assert math.isnan(histogram_quantile({}, 0.5))
    assert math.isnan(histogram_quantile({0.01: 0.0, math.inf: 0.0}, 0.5))
