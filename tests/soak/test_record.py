"""What the soak records and reads back: its JSON-lines history, and the e-mails Django's file backend wrote."""

from django.core.mail import EmailMessage, get_connection

from soak.checks import Email, LoggedEvent
from soak.evidence import emails_owed, emails_sent
from soak.history import Exchange, Fault, History, load_history
from soak.report import Outcome, render


def test_the_history_reads_back_as_written(tmp_path):
    history = History(tmp_path / "history.jsonl")
    written = [
        Exchange(1.0, 0.2, "staff", "RestockProduct", "POST", "/api/commands/x/", 200, "c1", body={"position": 3}),
        Exchange(2.0, 0.1, "alice", "read_order", "GET", "/api/queries/orders/o/", 503, min_position=3, expect={}),
    ]
    for exchange in written:
        history.record(exchange)
    history.close()

    assert load_history(tmp_path / "history.jsonl") == written


def test_the_emails_sent_are_read_from_the_file_backends_messages(tmp_path):
    connection = get_connection("django.core.mail.backends.filebased.EmailBackend", file_path=str(tmp_path))
    sent = [
        Email("<order_confirmation.1@localhost>", "Your order 1234abcd is confirmed"),
        Email("<dispatch_notice.3@localhost>", "Your order 1234abcd is on its way"),
        Email("<order_confirmation.1@localhost>", "Your order 1234abcd is confirmed"),  # resent
    ]
    for email in sent:
        body = "Dear you,\nSubject: a line of the body, not a header\nMessage-ID: <nor this>\n"
        message = EmailMessage(email.subject, body, "shop@localhost", ["a@example.com"])
        message.extra_headers["Message-ID"] = email.message_id
        connection.send_messages([message])

    assert emails_sent(tmp_path) == sent  # one connection writes one file, in the order sent


def test_the_emails_owed_are_one_per_order_placed_shipped_or_cancelled_each_with_its_message_id():
    order = "1234abcd-0000-0000-0000-000000000000"
    events = [
        LoggedEvent(1, "OrderPlaced", "c1", {"order_id": order}),
        LoggedEvent(2, "OrderPaid", "c2", {"order_id": order}),
        LoggedEvent(3, "OrderShipped", "c3", {"order_id": order}),
    ]

    assert emails_owed(events) == [
        Email("<order_confirmation.1@localhost>", "Your order 1234abcd is confirmed"),
        Email("<dispatch_notice.3@localhost>", "Your order 1234abcd is on its way"),
    ]


def test_the_report_gives_the_figures_the_faults_the_503_windows_and_every_violation():
    exchanges = [
        Exchange(1.0, 0.1, "alice", "PlaceOrder", "POST", "/api/commands/orders/place/", 201, "c1", body={}),
        Exchange(12.0, 0.1, "alice", "read_order", "GET", "/api/queries/orders/o/", 503, min_position=3),
    ]
    fault = Fault("kill beat", "SIGKILL beat", started=10.0, healed=14.0, caught_up=15.0)
    outcome = Outcome(
        20.0,
        exchanges,
        [fault],
        0.5,
        {"no 500s": [], "stock never negative": ["p ends with -1"]},
        emails_sent=12,
        resends_collapsed=1,
    )

    text = render(outcome, title="Chaos soak", settings={"seed": "1"}, grace=10)

    assert "| commands acknowledged | 1 (0.1/s) |" in text
    assert "| e-mail resends collapsed (a copy of a Message-ID already sent, after a sender died) | 1 |" in text
    assert "| 1 | 10.0 | kill beat | 4.0 s | 1.0 s | SIGKILL beat |" in text
    assert "| 12.0 | 12.1 | 1 | kill beat |" in text
    assert "- no 500s: clean" in text and "  - p ends with -1" in text
    assert not outcome.clean
