"""The re-read overlap follows the venue's clock, not the stream's delays or the producer's backlog."""

from __future__ import annotations

from fullon_account_service.producers.clock_skew import MAX_SAMPLE_MS, ClockSkew

T = 1_800_000_000_000


def test_a_backlog_on_some_fills_does_not_widen_the_overlap() -> None:
    skew = ClockSkew(5_000)
    for lag in (40_000, 120, 55_000, 300):  # fills the producer handled late, and two on time
        skew.observe("bybit", T + lag, T)
    assert skew.measured_ms("bybit") == 120
    assert skew.overlap_ms("bybit") == 10_000, "the configured skew, doubled"


def test_a_venue_clock_that_trails_ours_widens_the_overlap_by_itself() -> None:
    skew = ClockSkew(5_000)
    for lag in (8_200, 9_000, 8_050):  # every fill carries the clock's 8 s
        skew.observe("kraken", T + lag, T)
    assert skew.overlap_ms("kraken") == 16_100
    assert skew.overlap_ms("bybit") == 10_000, "per venue"


def test_only_recent_samples_count_and_each_is_capped() -> None:
    skew = ClockSkew(1_000, samples=2)
    skew.observe("kraken", T + 9_000, T)
    skew.observe("kraken", T + 10 * MAX_SAMPLE_MS, T)
    skew.observe("kraken", T + 10 * MAX_SAMPLE_MS, T)
    assert skew.measured_ms("kraken") == MAX_SAMPLE_MS, "the 9 s sample is no longer among the last two"
    skew.observe("kraken", T + 1, None)
    assert skew.measured_ms("kraken") == MAX_SAMPLE_MS, "a fill without a venue time measures nothing"
