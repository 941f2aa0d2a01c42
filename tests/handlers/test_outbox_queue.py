"""The delivery queue a receiver's events wait in: only the first event of each flag may go, the oldest
first; a failed one waits for its backoff and holds back the later ones of its flag, not the others."""

from __future__ import annotations

from handlers.core.outbox_queue import DeliveryQueue, Queued


def queued(stream_id: str, flag: str, due: float = 0.0) -> Queued:
    return Queued(stream_id, {"id": f"change:staging:{stream_id}", "flag": flag}, due, 0)


def ids(taken: list[Queued]) -> list[str]:
    return [q.stream_id for q in taken]


def test_only_the_first_of_each_flag_goes_oldest_first_in_the_outbox_s_numeric_order() -> None:
    # As text "5-10" sorts before "5-9"; read back in any order, the queue keeps the outbox's.
    queue = DeliveryQueue(
        [queued("5-10", "a"), queued("7-0", "c"), queued("5-9", "a"), queued("6-0", "b")], complete=True
    )
    assert len(queue) == 4
    assert ids(queue.take(now=1.0, limit=10)) == ["5-9", "6-0", "7-0"]  # "5-10" waits for "5-9"
    assert queue.take(now=1.0, limit=10) == []  # each is being sent
    queue.settled(queued("5-9", "a"))
    assert ids(queue.take(now=1.0, limit=10)) == ["5-10"]


def test_at_most_limit_are_taken_and_the_rest_wait_their_turn_oldest_first() -> None:
    queue = DeliveryQueue([queued(f"{n}-0", f"flag{n}") for n in range(1, 7)], complete=True)
    assert ids(queue.take(now=1.0, limit=4)) == ["1-0", "2-0", "3-0", "4-0"]
    queue.settled(queued("3-0", "flag3"))
    assert ids(queue.take(now=1.0, limit=1)) == ["5-0"]
    assert ids(queue.take(now=1.0, limit=4)) == ["6-0"]


def test_a_failed_event_waits_for_its_backoff_and_holds_back_its_flag_only() -> None:
    queue = DeliveryQueue([queued("1-0", "a"), queued("2-0", "a"), queued("3-0", "b")], complete=True)
    first_a, first_b = queue.take(now=1.0, limit=10)
    queue.retry(first_a, due=5.0)
    queue.settled(first_b)
    assert queue.next_due() == 5.0
    assert queue.take(now=4.9, limit=10) == []  # "2-0" waits behind "1-0", which waits for 5.0
    (again,) = queue.take(now=5.0, limit=10)
    assert again.stream_id == "1-0" and again.attempts == 1 and again.due == 5.0
    queue.settled(again)  # delivered (or a dead letter): the next of its flag may go
    assert ids(queue.take(now=5.0, limit=10)) == ["2-0"] and queue.next_due() is None


def test_events_added_later_go_after_those_of_their_flag_already_queued() -> None:
    queue = DeliveryQueue([queued("1-0", "a", due=2.0)], complete=True)
    queue.add(queued("2-0", "a"))
    queue.add(queued("3-0", "b"))
    assert ids(queue.take(now=1.0, limit=10)) == ["3-0"]  # "1-0" not due yet, "2-0" behind it
    assert ids(queue.take(now=2.0, limit=10)) == ["1-0"]
    assert len(queue) == 3


def test_new_events_wait_in_redis_once_as_many_as_it_holds_are_held_or_some_were_not_read() -> None:
    queue = DeliveryQueue([queued("1-0", "a")], complete=True)
    queue.add_new(queued("2-0", "b"), limit=2)
    assert len(queue) == 2 and queue.complete
    queue.add_new(queued("3-0", "c"), limit=2)  # full: it waits in Redis, and so does every later one
    queue.settled(queue.take(now=1.0, limit=1)[0])
    queue.add_new(queued("4-0", "c"), limit=2)
    assert len(queue) == 1 and not queue.complete
    partial = DeliveryQueue([queued("1-0", "a")], complete=False)  # read in part: later ones are in Redis
    partial.add_new(queued("9-0", "a"), limit=100)
    assert len(partial) == 1
