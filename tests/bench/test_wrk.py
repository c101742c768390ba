"""bench/wrk.py and bench/lua/replay.lua: the request file, wrk's JSON line, rounds and their figures.

The last test runs the real wrk (skipped where it is not installed) against a tiny local server,
to show that the Lua script sends what the file says; it asserts what arrived, never how fast.
"""

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import wrk
from bench.__main__ import _missing_wrk, parse_arguments


def result(**figures) -> wrk.Result:
    defaults = {
        "requests": 100,
        "seconds": 2.0,
        "unexpected": 0,
        "socket_errors": 0,
        "timeouts": 0,
        "p50_ms": 2.0,
        "p90_ms": 3.0,
        "p99_ms": 5.0,
        "max_ms": 9.0,
    }
    return wrk.Result(**{**defaults, **figures})


def test_a_request_is_one_line_of_four_tab_separated_fields():
    request = wrk.Request("POST", "/api/commands/orders/place/", "abc", '{"lines": []}')

    assert request.line() == 'POST\t/api/commands/orders/place/\tabc\t{"lines": []}'


def test_a_request_without_token_or_body_leaves_those_fields_empty():
    assert wrk.Request("GET", "/api/queries/products/").line() == "GET\t/api/queries/products/\t\t"


@pytest.mark.parametrize("body", ['{"a": "\t"}', '{"a":\n1}', '{"a": 1}\r'])
def test_a_request_that_would_break_its_line_is_refused(body):
    with pytest.raises(ValueError, match="one line"):
        wrk.Request("POST", "/x/", "abc", body).line()


def test_the_request_file_has_a_line_per_request(tmp_path):
    requests = [wrk.Request("GET", f"/api/queries/products/{n}/", "abc") for n in range(3)]

    path = wrk.write_requests(tmp_path / "products.requests", requests)

    assert path.read_text().splitlines() == [request.line() for request in requests]


def test_an_empty_request_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        wrk.write_requests(tmp_path / "none.requests", [])


def test_parse_reads_the_json_line_among_wrk_s_own_output():
    figures = {
        "requests": 1200,
        "seconds": 2.004,
        "unexpected": 3,
        "socket_errors": 1,
        "timeouts": 0,
        "p50_ms": 4.5,
        "p90_ms": 7.25,
        "p99_ms": 12.0,
        "max_ms": 30.5,
        "failures": ['503 {"code": "projection_behind"}'],
    }
    output = "Running 2s test @ http://127.0.0.1:8000\n  1 threads and 6 connections\n"
    output += f"Requests/sec:    598.80\n{wrk.MARKER}{json.dumps(figures)}\n"

    parsed = wrk.parse(output)

    assert parsed == wrk.Result(**{**figures, "failures": ('503 {"code": "projection_behind"}',)})
    assert (parsed.ok, parsed.errors) == (1197, 4)
    assert parsed.rate == pytest.approx(1197 / 2.004)


def test_parse_without_the_json_line_says_what_wrk_printed():
    with pytest.raises(ValueError, match="PANIC: unprotected error"):
        wrk.parse("PANIC: unprotected error in call to Lua API\n")


def test_rounds_compare_contenders_by_the_median_of_the_rounds_ratios():
    rounds = wrk.Rounds()
    for ours, theirs in ((90, 100), (50, 100), (95, 100)):  # the second round was spoilt for ours
        rounds.add("ours", result(requests=ours, seconds=1.0, p50_ms=100 / ours))
        rounds.add("theirs", result(requests=theirs, seconds=1.0, p50_ms=1.0))

    assert rounds.rate("ours") == pytest.approx(235 / 3)
    assert rounds.ratio("ours", "theirs", wrk.RATE) == pytest.approx(0.9)
    assert rounds.median("ours", wrk.P50) == pytest.approx(100 / 90)
    assert rounds.by_round("ours", "theirs") == "90/100, 50/100, 95/100"
    assert rounds.by_round("ours", "theirs", wrk.P50, digits=2) == "1.11/1.00, 2.00/1.00, 1.05/1.00"


def test_unexpected_answers_count_as_errors_and_not_in_the_rate():
    rounds = wrk.Rounds()
    rounds.add("ours", result(requests=100, unexpected=10, timeouts=1, seconds=1.0, failures=("429 slow down",)))

    assert rounds.rate("ours") == 90
    assert rounds.errors("ours") == 11
    assert rounds.failures("ours") == ["429 slow down"]


def test_a_throughput_figure_is_met_at_the_target_ratio():
    rounds = wrk.Rounds()
    rounds.add("ours", result(requests=80, seconds=1.0))
    rounds.add("theirs", result(requests=100, seconds=1.0))

    figure = wrk.throughput_figure("9", "reads", "requests/s", rounds, ("ours", "theirs"), "plain", 0.8)

    assert (figure.value, figure.baseline_value, figure.ratio, figure.met) == (80, 100, pytest.approx(0.8), True)


def test_latency_figures_put_the_baseline_over_ours_so_that_higher_is_better():
    rounds = wrk.Rounds()
    rounds.add("ours", result(p50_ms=4.0, p99_ms=10.0))
    rounds.add("theirs", result(p50_ms=2.0, p99_ms=20.0))

    p50, p99 = wrk.latency_figures("9", "reads", rounds, ("ours", "theirs"), "plain")

    assert (p50.measure, p50.value, p50.baseline_value, p50.ratio) == ("reads: p50", 4.0, 2.0, 0.5)
    assert (p99.measure, p99.value, p99.baseline_value, p99.ratio) == ("reads: p99", 10.0, 20.0, 2.0)


@pytest.mark.parametrize(("seconds", "whole"), [(0.2, 1), (1.5, 1), (2.6, 2), (15.0, 15)])
def test_wrk_runs_for_whole_seconds_and_at_least_one(seconds, whole):
    assert wrk.whole_seconds(seconds) == whole


def test_without_wrk_its_benchmarks_refuse_to_start_saying_how_to_install_it(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)

    assert "apt-get install wrk" in _missing_wrk(parse_arguments(["--only", "1,3"]))
    assert _missing_wrk(parse_arguments(["--only", "3,4"])) == ""


class Recorder(BaseHTTPRequestHandler):
    """Answers 200, or 404 under /missing/; keeps what each request carried."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, str, str]] = []

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        self.seen.append((self.command, self.path, self.headers.get("Authorization", ""), body))
        self.send_response(404 if self.path.startswith("/missing/") else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = answer

    def log_message(self, *args) -> None:
        pass


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk: apt-get install wrk")
def test_wrk_replays_the_file_with_its_tokens_and_bodies(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    requests = [
        wrk.Request("GET", "/products/?_={n}", "token-1"),
        wrk.Request("POST", "/orders/", "token-2", '{"lines": [1, 2]}'),
        wrk.Request("GET", "/missing/"),
    ]
    try:
        measured = wrk.measure(
            f"http://127.0.0.1:{server.server_port}",
            wrk.write_requests(tmp_path / "requests", requests),
            seconds=1,
            connections=1,
        )
    finally:
        server.shutdown()

    seen = Recorder.seen
    listed = [path for _, path, _, _ in seen if path.startswith("/products/")]
    assert ("GET", listed[0], "Token token-1", "") in seen
    assert len(set(listed)) == len(listed) > 1  # {n} made each one new
    assert ("POST", "/orders/", "Token token-2", '{"lines": [1, 2]}') in seen
    assert ("GET", "/missing/", "", "") in seen
    assert measured.requests >= len(seen) - 1  # the last may be answered after wrk stopped counting
    assert measured.unexpected == sum(1 for _, path, _, _ in seen[: measured.requests] if path == "/missing/")
    assert measured.failures and measured.failures[0].startswith("404")
