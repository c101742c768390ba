"""The soak's checks, each on a tiny made-up history: clean when the promise holds, a violation when it breaks."""

from soak import checks
from soak.checks import Email, LoggedEvent
from soak.history import Exchange, Fault, StreamMessage


def command(status, correlation_id="c1", *, at=1.0, took=0.1, op="PlaceOrder", **fields):
    return Exchange(at, took, "t", op, "POST", "/api/commands/orders/place/", status, correlation_id, **fields)


def status_poll(state, correlation_id="c1", *, at=2.0):
    body = {"status": state, "error": {"code": "internal_error"} if state == "failed" else None}
    return Exchange(at, 0.1, "t", "command_status", "GET", "/api/commands/status/x/", 200, correlation_id, body=body)


def read(status=200, *, min_position=None, read_position=None, body=None, expect=None, op="read_order", at=3.0):
    return Exchange(
        at, 0.1, "t", op, "GET", "/api/queries/orders/o/", status,
        min_position=min_position, read_position=read_position, body=body, expect=expect or {},
    )  # fmt: skip


def event(correlation_id="c1", position=1, type_="OrderPlaced", data=None):
    return LoggedEvent(position, type_, correlation_id, data or {})


class TestAcknowledgedCommandsRecordedOnce:
    def test_an_acknowledged_command_with_its_one_event_is_clean(self):
        assert checks.acknowledged_commands_recorded_once([command(201)], [event()]) == []

    def test_an_acknowledged_command_without_an_event_is_a_violation(self):
        assert checks.acknowledged_commands_recorded_once([command(201)], []) != []

    def test_a_retry_that_recorded_the_command_twice_is_a_violation(self):
        history = [command(0, attempt=1), command(200, attempt=2)]
        assert checks.acknowledged_commands_recorded_once(history, [event(position=1), event(position=2)]) != []

    def test_an_async_command_that_succeeded_counts_as_acknowledged(self):
        history = [command(202, is_async=True), status_poll("succeeded")]
        assert checks.acknowledged_commands_recorded_once(history, []) != []
        assert checks.acknowledged_commands_recorded_once(history, [event()]) == []

    def test_a_command_with_no_known_outcome_may_have_happened_once_but_not_twice(self):
        history = [command(0), command(503, attempt=2)]
        assert checks.acknowledged_commands_recorded_once(history, []) == []
        assert checks.acknowledged_commands_recorded_once(history, [event()]) == []
        assert checks.acknowledged_commands_recorded_once(history, [event(position=1), event(position=2)]) != []


class TestRefusedCommandsRecordedNothing:
    def test_a_refused_command_without_events_is_clean(self):
        assert checks.refused_commands_recorded_nothing([command(409)], [event("other")]) == []

    def test_a_refused_command_with_an_event_is_a_violation(self):
        assert checks.refused_commands_recorded_nothing([command(409)], [event()]) != []

    def test_an_async_command_refused_at_its_status_counts(self):
        history = [command(202, is_async=True), status_poll("refused")]
        assert checks.refused_commands_recorded_nothing(history, [event()]) != []

    def test_a_throttled_try_is_not_a_refusal(self):
        assert checks.command_outcomes([command(429)]) == {"c1": checks.UNKNOWN}


def test_every_accepted_async_command_must_finish():
    accepted = command(202, is_async=True)
    assert checks.async_commands_finished([accepted, status_poll("accepted")]) != []
    assert checks.async_commands_finished([accepted, status_poll("succeeded")]) == []


def test_server_errors_and_failed_async_commands_are_violations():
    assert checks.no_server_errors([command(200), command(409), command(503)]) == []
    assert checks.no_server_errors([command(500)]) != []
    assert checks.no_server_errors([status_poll("failed")]) != []


class TestUnavailableOnlyDuringFaults:
    fault = Fault("kill beat", "", started=10.0, healed=15.0)

    def test_a_503_during_a_fault_or_its_grace_is_allowed(self):
        history = [command(503, at=11.0), command(0, at=19.0, error="ConnectionError")]
        assert checks.unavailable_only_during_faults(history, [self.fault], grace=5.0) == []

    def test_a_503_after_the_grace_is_a_violation(self):
        history = [command(503, at=21.0)]
        assert checks.unavailable_only_during_faults(history, [self.fault], grace=5.0) != []

    def test_an_unanswered_request_with_no_fault_is_a_violation(self):
        assert checks.unavailable_only_during_faults([command(0, at=1.0)], [], grace=5.0) != []

    def test_a_request_that_began_before_the_fault_and_ended_in_it_is_allowed(self):
        history = [command(503, at=9.0, took=2.0)]
        assert checks.unavailable_only_during_faults(history, [self.fault], grace=5.0) == []


def test_unavailable_windows_gather_nearby_503s():
    history = [command(503, at=1.0), command(503, at=2.0), command(200, at=3.0), command(0, at=20.0)]
    windows = checks.unavailable_windows(history)
    assert [(round(start), count) for start, _end, count in windows] == [(1, 2), (20, 1)]


class TestOwnWritesVisible:
    def test_a_read_at_or_past_its_position_showing_the_write_is_clean(self):
        history = [read(min_position=5, read_position=7, body={"status": "paid"}, expect={"status": ["paid"]})]
        assert checks.own_writes_visible(history) == []

    def test_a_read_behind_its_own_write_is_a_violation(self):
        assert checks.own_writes_visible([read(min_position=5, read_position=4, body={})]) != []

    def test_a_read_that_shows_an_older_state_is_a_violation(self):
        history = [read(min_position=5, read_position=5, body={"status": "placed"}, expect={"status": ["paid"]})]
        assert checks.own_writes_visible(history) != []

    def test_prices_compare_as_numbers(self):
        history = [read(min_position=1, read_position=1, body={"price": "12.50"}, expect={"price": ["12.5"]})]
        assert checks.own_writes_visible(history) == []

    def test_a_503_is_not_a_stale_read(self):
        assert checks.own_writes_visible([read(503, min_position=5, read_position=3)]) == []


class TestStock:
    def test_negative_stock_at_the_end_is_a_violation(self):
        assert checks.stock_never_negative([], {"p (write model)": 0}) == []
        assert checks.stock_never_negative([], {"p (write model)": -1}) != []

    def test_negative_stock_seen_in_a_list_is_a_violation(self):
        page = {"results": [{"id": "p", "stock_available": -2}]}
        assert checks.stock_never_negative([read(body=page, op="browse_products")], {}) != []

    def test_units_sold_are_the_lines_placed_minus_those_cancelled(self):
        lines = {"lines": [{"product_id": "p", "quantity": 3}, {"product_id": "q", "quantity": 1}]}
        events = [event(type_="OrderPlaced", data=lines), event(type_="OrderCancelled", data=lines, position=2)]
        events.append(event(type_="OrderPlaced", data={"lines": [{"product_id": "p", "quantity": 2}]}, position=3))
        assert checks.units_sold_match_orders(events, {"p": 2, "q": 0}) == []
        assert checks.units_sold_match_orders(events, {"p": 5, "q": 0}) != []


class TestEmailsSentOnce:
    """The log owes order 1's confirmation (#3) and dispatch notice (#7)."""

    confirmation = Email("<order_confirmation.3@localhost>", "Your order 1 is confirmed")
    dispatch = Email("<dispatch_notice.7@localhost>", "Your order 1 is on its way")
    owed = [confirmation, dispatch]

    def test_each_owed_email_sent_once_is_clean(self):
        assert checks.emails_sent_once(self.owed, [self.dispatch, self.confirmation]) == []
        assert checks.resends_collapsed([self.dispatch, self.confirmation]) == 0

    def test_a_resend_under_the_same_message_id_is_one_email_and_counted(self):
        sent = [self.confirmation, self.confirmation, self.dispatch, self.confirmation]

        assert checks.emails_sent_once(self.owed, sent) == []
        assert checks.resends_collapsed(sent) == 2

    def test_an_email_never_sent_is_a_violation(self):
        assert checks.emails_sent_once(self.owed, [self.confirmation]) == [
            "e-mail 'Your order 1 is on its way' (<dispatch_notice.7@localhost>) was never sent"
        ]

    def test_an_owed_email_sent_under_a_second_message_id_is_a_violation(self):
        again = Email("<1700000000.123.456@worker-2>", self.confirmation.subject)

        assert checks.emails_sent_once(self.owed, [*self.owed, again]) == [
            "e-mail 'Your order 1 is confirmed' was sent as <1700000000.123.456@worker-2>, which no e-mail owed "
            "has, a second Message-ID for an e-mail owed"
        ]

    def test_an_email_nobody_owes_is_a_violation(self):
        stray = Email("<order_confirmation.9@localhost>", "Your order 2 is confirmed")

        assert checks.emails_sent_once(self.owed, [*self.owed, stray]) != []

    def test_an_owed_message_id_with_another_subject_is_a_violation(self):
        wrong = Email(self.dispatch.message_id, "Your order 1 is cancelled")

        assert checks.emails_sent_once(self.owed, [self.confirmation, wrong]) != []


def test_followers_must_catch_up_within_the_limit():
    assert checks.followers_caught_up(12.0, limit=60) == []
    assert checks.followers_caught_up(61.0, limit=60) != []
    assert checks.followers_caught_up(None, limit=60) != []


def test_read_models_must_match_a_rebuild():
    assert checks.read_models_match_a_rebuild({"order_summary": 0}) == []
    assert checks.read_models_match_a_rebuild({"order_summary": 2}) != []


class TestStreamDeliveredEveryOrderChange:
    """The reader follows customer `c`: the log has four changes to c's orders and one to another customer's."""

    events = [
        event("p1", 3, "OrderPlaced", {"order_id": "o1", "customer_id": "c"}),
        event("p2", 4, "OrderPlaced", {"order_id": "o2", "customer_id": "someone else"}),
        event("p3", 5, "OrderPaid", {"order_id": "o1", "customer_id": "c"}),
        event("p4", 6, "RestockProduct", {"product_id": "p"}),
        event("p5", 7, "OrderPlaced", {"order_id": "o3", "customer_id": "c"}),
        event("p6", 9, "OrderCancelled", {"order_id": "o3", "customer_id": "c"}),
    ]
    clean = [
        StreamMessage(1.0, 1, "order", 3, "o1", "placed"),
        StreamMessage(2.0, 1, "order", 5, "o1", "paid"),
        StreamMessage(3.0, 2, "order", 7, "o3", "placed"),  # after a reconnection
        StreamMessage(4.0, 2, "order", 9, "o3", "cancelled"),
    ]

    def check(self, messages, last_position=9):
        return checks.stream_delivered_every_order_change(
            self.events, messages, customer_id="c", last_position=last_position
        )

    def test_every_change_once_in_order_with_its_status_is_clean(self):
        assert self.check(self.clean) == []

    def test_changes_past_the_readers_cursor_are_not_owed(self):
        assert self.check(self.clean[:2], last_position=6) == []

    def test_a_lost_message_is_a_violation(self):
        violations = self.check([*self.clean[:1], *self.clean[2:]])
        assert len(violations) == 1 and "#5" in violations[0] and "never delivered" in violations[0]

    def test_a_message_delivered_twice_is_a_violation(self):
        again = StreamMessage(2.5, 2, "order", 5, "o1", "paid")  # a resume that sent its Last-Event-ID again
        violations = self.check([*self.clean[:2], again, *self.clean[2:]])
        assert len(violations) == 1 and "again" in violations[0]

    def test_a_message_out_of_order_is_a_violation(self):
        violations = self.check([self.clean[0], self.clean[2], self.clean[1], self.clean[3]])
        assert len(violations) == 1 and "out of order" in violations[0]

    def test_a_wrong_status_is_a_violation(self):
        stale = StreamMessage(2.0, 1, "order", 5, "o1", "placed")
        assert self.check([self.clean[0], stale, *self.clean[2:]]) != []

    def test_another_customers_order_is_a_violation(self):
        leaked = StreamMessage(1.5, 1, "order", 4, "o2", "placed")
        assert self.check([self.clean[0], leaked, *self.clean[1:]]) != []

    def test_a_reader_that_never_heard_the_stream_is_a_violation(self):
        assert checks.stream_delivered_every_order_change(self.events, [], customer_id="c", last_position=None) != []
