"""Benchmark 9's pure parts: the requests both contenders are sent, the answers compared, the waiters' addresses."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.http_reads import CONTENDERS, Readers, first_difference
from bench.load import Waiters
from bench.pending_waits import WAITERS, waiting_requests


def readers(customers: int = 2) -> Readers:
    return Readers(tokens=[f"token-{n}" for n in range(customers)], products=["p1", "p2", "p3"])


def test_both_contenders_are_asked_the_same_reads_by_the_same_customers_in_turn():
    detail, listed, orders = readers().reads()

    assert [(r.path, r.token) for r in detail.query] == [
        ("/api/queries/products/p1/", "token-0"),
        ("/api/queries/products/p2/", "token-1"),
        ("/api/queries/products/p3/", "token-0"),
    ]
    assert [(r.path, r.token) for r in detail.plain] == [
        ("/bench/baseline/read/products/p1/", "token-0"),
        ("/bench/baseline/read/products/p2/", "token-1"),
        ("/bench/baseline/read/products/p3/", "token-0"),
    ]
    assert [r.token for r in orders.query] == [r.token for r in orders.plain] == ["token-0", "token-1"]
    assert all(r.method == "GET" and not r.body for read in (detail, listed, orders) for r in read.query + read.plain)


def test_every_product_list_request_is_a_new_url_so_that_the_response_cache_misses():
    _detail, listed, _orders = readers().reads()

    assert all("{n}" in request.path for request in listed.query + listed.plain)


def test_each_contender_has_its_own_request_file(tmp_path):
    detail = readers().reads()[0]

    files = detail.files(tmp_path)

    assert set(files) == set(CONTENDERS)
    assert files[CONTENDERS[0]].read_text().splitlines() == [request.line() for request in detail.query]
    assert files[CONTENDERS[1]].read_text().splitlines() == [request.line() for request in detail.plain]


def test_the_waiting_requests_each_carry_their_own_customer_and_the_position():
    waiting = waiting_requests(readers(customers=WAITERS + 5).tokens, 1234)

    assert len(waiting) == WAITERS
    assert len({headers["Authorization"] for _, _, _, headers in waiting}) == WAITERS
    assert {(method, path, headers["X-Min-Position"]) for method, path, _, headers in waiting} == {
        ("GET", "/api/queries/orders/", "1234")
    }


def test_equal_answers_have_no_difference_whatever_the_order_of_their_keys():
    assert first_difference({"a": 1, "b": [{"c": "1.50"}]}, {"b": [{"c": "1.50"}], "a": 1}) == ""


def test_the_first_difference_says_where_and_what():
    ours = {"results": [{"total": "1.50", "lines": [{"unit_price": "99.10"}]}]}
    theirs = {"results": [{"total": "1.50", "lines": [{"unit_price": "99.1"}]}]}

    assert first_difference(ours, theirs) == "results[0].lines[0].unit_price: '99.10' / '99.1'"


def test_a_key_only_one_has_and_lists_of_other_lengths_are_differences():
    assert first_difference({"a": 1}, {"a": 1, "count": 3}) == "count: only one has it"
    assert first_difference({"results": [1]}, {"results": [1, 2]}) == "results: [1] / [1, 2]"


class Waiting(BaseHTTPRequestHandler):
    """Answers every request 503 after a moment, as a wait that ran out; keeps the client addresses."""

    protocol_version = "HTTP/1.1"
    addresses: set[str] = set()

    def do_GET(self) -> None:
        self.addresses.add(self.client_address[0])
        threading.Event().wait(0.05)
        self.send_response(503)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


def test_waiters_come_each_from_its_own_loopback_address_and_keep_asking():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Waiting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Waiting.addresses = set()
    requests = [("GET", "/api/queries/orders/", None, {"X-Min-Position": "9"})] * 3
    try:
        with Waiters(f"http://127.0.0.1:{server.server_port}", requests, spread=0.3) as waiters:
            threading.Event().wait(0.2)
    finally:
        server.shutdown()

    assert Waiting.addresses == {"127.0.0.2", "127.0.0.3", "127.0.0.4"}
    assert set(waiters.statuses) == {503}
    assert waiters.statuses[503] >= 3  # every one was answered before the block ended
    assert waiters.bodies == {503: b"{}"}
