"""The live stream's reader, on a made-up stream: what it hears, where it resumes, and what it records."""

import random
import threading

import requests

from soak.history import History, StreamMessage
from soak.load import Catalog, Client, Customer
from soak.stream_reader import StreamReader


class FakeResponse:
    def __init__(self, status_code, chunks=(), error=None, body=None):
        self.status_code, self.chunks, self.error, self.body = status_code, chunks, error, body

    def iter_content(self, chunk_size=None):
        yield from self.chunks
        if self.error:
            raise self.error

    def json(self):
        return self.body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeSession:
    def __init__(self, responses):
        self.responses, self.sent = list(responses), []

    def get(self, url, headers, **kwargs):
        self.sent.append(headers["Last-Event-ID"])
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def reader_on(tmp_path, responses):
    history = History(tmp_path / "history.jsonl")
    client = Client("http://shop", "key", history, clock=lambda: 1.0, name="reader")
    client.session = FakeSession(responses)
    customer = Customer(client, random.Random(1), Catalog(), "alice")
    customer.customer_id = "c"
    return StreamReader(client, random.Random(1), Catalog(), customer, tmp_path / "stream.jsonl"), history


def test_the_reader_hears_messages_split_across_chunks_and_resumes_after_the_last_id(tmp_path):
    first = FakeResponse(
        200,
        [
            b"retry: 1000\nid: 0\n\n",
            b'event: order\nid: 3\ndata: {"id": "o1", "st',
            b'atus": "placed"}\n\nevent: order\nid: 5\ndata: {"id": "o1", "status": "paid"}\n',
            b"\n: heartbeat\nid: 8\n\n",
        ],
        error=requests.exceptions.ChunkedEncodingError("connection broken"),
    )
    refused = FakeResponse(503, body={"code": "redis_unavailable"})
    reader, history = reader_on(tmp_path, [first, requests.exceptions.ConnectionError(), refused])
    stop = threading.Event()

    for _ in range(3):
        reader.listen(stop)

    assert reader.messages == [
        StreamMessage(1.0, 1, "order", 3, "o1", "placed"),
        StreamMessage(1.0, 1, "order", 5, "o1", "paid"),
    ]
    assert reader.last_id == 8  # the heartbeat's id moves the cursor too
    assert reader.client.session.sent == ["0", "8", "8"]
    recorded = [(e.op, e.status, e.error) for e in history.exchanges]
    assert recorded == [
        ("stream_connect", 200, ""),
        ("stream_dropped", 0, "ChunkedEncodingError"),
        ("stream_connect", 0, "ConnectionError"),
        ("stream_connect", 503, ""),
    ]
    assert len((tmp_path / "stream.jsonl").read_text().splitlines()) == 2


def test_a_stream_the_server_ends_is_recorded_as_dropped(tmp_path):
    reader, history = reader_on(tmp_path, [FakeResponse(200, [b"retry: 1000\nid: 4\n\n"])])
    reader.listen(threading.Event())
    assert [(e.op, e.error) for e in history.exchanges] == [("stream_connect", ""), ("stream_dropped", "stream ended")]
    assert reader.last_id == 4


def test_the_reader_closes_a_stream_open_long_enough_and_resumes_at_once_without_counting_a_drop(tmp_path):
    now = [0.0]
    long_open = FakeResponse(
        200, [b'event: order\nid: 3\ndata: {"id": "o1", "status": "placed"}\n\n', b": heartbeat\n\n"]
    )
    reader, history = reader_on(tmp_path, [long_open, FakeResponse(200, [])])
    reader.client.clock = lambda: now[0]

    def later(chunk_size=None):
        yield long_open.chunks[0]
        now[0] = 60.0  # past RESUME_EVERY_SECONDS by the heartbeat
        yield long_open.chunks[1]

    long_open.iter_content = later

    assert reader.listen(threading.Event()) is True
    reader.listen(threading.Event())

    assert reader.resumed_on_purpose == 1
    assert reader.client.session.sent == ["0", "3"]
    assert [(e.op, e.status) for e in history.exchanges] == [
        ("stream_connect", 200),
        ("stream_connect", 200),
        ("stream_dropped", 0),  # the second stream ended: the server's doing, a drop
    ]
