"""read_ahead: a generator on its own thread, its items handed over in order."""

from __future__ import annotations

import threading

import pytest

from skill.engines._read_ahead import read_ahead


def test_items_come_in_order_and_all_of_them():
    assert list(read_ahead(iter(range(1000)), depth=3)) == list(range(1000))
    assert list(read_ahead(iter([]), depth=1)) == []


def test_the_producer_runs_ahead_of_the_consumer():
    produced_third = threading.Event()

    def items():
        yield 1
        yield 2
        produced_third.set()
        yield 3

    seen = []
    for item in read_ahead(items(), depth=4):
        if item == 1:  # the consumer holds item 1 while the producer, on its own thread, gets to item 3
            assert produced_third.wait(timeout=10), "the producer did not run while the consumer held an item"
        seen.append(item)
    assert seen == [1, 2, 3]


def test_a_failure_is_raised_where_its_item_was_due():
    class Broken(Exception):
        pass

    def items():
        yield "a"
        yield "b"
        raise Broken("decoding stopped")

    got = []
    with pytest.raises(Broken, match="decoding stopped"):
        for item in read_ahead(items(), depth=8):
            got.append(item)
    assert got == ["a", "b"]


def test_a_consumer_that_stops_early_closes_the_generator_and_the_thread():
    closed = threading.Event()

    def items():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    before = threading.active_count()
    with pytest.raises(RuntimeError, match="consumer failed"):
        for item in read_ahead(items(), depth=2):
            if item == 5:
                raise RuntimeError("consumer failed")
    assert closed.is_set()  # the generator's finally ran (a decoder's file would be closed) before the raise went on
    assert threading.active_count() == before


def test_depth_must_be_positive():
    with pytest.raises(ValueError):
        list(read_ahead(iter([1]), depth=0))
