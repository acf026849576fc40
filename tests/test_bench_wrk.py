"""``bench/common.parse_wrk`` reads wrk's summary in every unit wrk prints (its units.c pads a
one-letter unit with a trailing space: the p99 of a slow round is ``"1.02s "``, which crashed
the PostgreSQL benchmark when its p99 reached one second)."""

from __future__ import annotations

import pytest

from bench.common import duration_ms, parse_wrk


def wrk_output(p50: str, p99: str, took: str = "10.01s", extra: str = "") -> str:
    # Column layout as Debian's wrk 4.1.0 prints it with --latency (print_units pads to 10).
    return (
        "Running 10s test @ http://127.0.0.1:8000\n"
        "  1 threads and 64 connections\n"
        "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n"
        "    Latency    21.30ms    6.10ms   1.02s    91.20%\n"
        "    Req/Sec     3.01k   210.00     3.50k    70.00%\n"
        "  Latency Distribution\n"
        f"     50% {p50:>10}\n"
        "     75%   22.00ms\n"
        "     90%   25.00ms\n"
        f"     99% {p99:>10}\n"
        f"  30112 requests in {took}, 3.10MB read\n"
        f"{extra}"
        "Requests/sec:   3008.19\n"
        "Transfer/sec:    317.21KB\n"
        "not-202 answers: 5\n"
    )


def test_a_p99_of_one_second_with_wrks_trailing_space_is_read():
    result = parse_wrk(wrk_output("20.61ms", "1.02s "))

    assert result.p99_ms == pytest.approx(1020.0)
    assert result.p50_ms == pytest.approx(20.61)
    assert result.requests == 30112 and result.per_second == pytest.approx(3008.19)
    assert result.seconds == pytest.approx(10.01)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("750.00us", 0.75),
        ("20.61ms", 20.61),
        ("1.02s ", 1020.0),
        ("2.00s", 2000.0),
        ("1.50m ", 90_000.0),
        ("1.00h ", 3_600_000.0),
        ("  5ms", 5.0),
    ],
)
def test_every_unit_wrk_prints_is_converted_to_milliseconds(text, ms):
    assert duration_ms(text) == pytest.approx(ms)
    assert parse_wrk(wrk_output("1.00ms", text)).p99_ms == pytest.approx(ms)


def test_a_run_of_minutes_and_its_errors_are_counted():
    extra = (
        "  Socket errors: connect 0, read 2, write 1, timeout 12\n  Non-2xx or 3xx responses: 7\n"
    )
    result = parse_wrk(wrk_output("900.00us", "10.00s ", took="1.00m", extra=extra))

    assert result.seconds == pytest.approx(60.0)
    assert (result.non_2xx, result.socket_errors) == (7, 15)
    assert result.p50_ms == pytest.approx(0.9)


@pytest.mark.parametrize("text", ["", "12", "1.0 parsecs", "ms"])
def test_something_that_is_not_a_duration_is_refused_by_name(text):
    with pytest.raises(ValueError, match="not a wrk duration"):
        duration_ms(text)


def test_output_without_the_latency_distribution_says_so():
    lines = wrk_output("1.00ms", "2.00ms").splitlines(keepends=True)
    without = "".join(line for line in lines if not line.lstrip().startswith(("50%", "99%")))
    with pytest.raises(ValueError, match="--latency"):
        parse_wrk(without)
