"""fastscan.parallel (splitting work across threads) and the scan loop's reading thread."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest

from fastscan import parallel
from fastscan.parallel import in_background, map_ordered, split_when, workers
from fastscan.run.loop import _Pipe, _prefetch


@pytest.fixture
def two_threads():
    before = pa.cpu_count()
    pa.set_cpu_count(2)
    yield
    pa.set_cpu_count(before)


def test_map_ordered_keeps_the_order_of_the_items_and_raises_their_error(two_threads):
    assert map_ordered(lambda x: x * x, range(50)) == [x * x for x in range(50)]

    def fail(x: int) -> int:
        if x == 7:
            raise ValueError("item 7")
        return x

    with pytest.raises(ValueError, match="item 7"):
        map_ordered(fail, range(10))


@pytest.mark.parametrize("cores, most", [(8, 3), (8, 1), (2, 5), (8, 8)])
def test_map_ordered_runs_no_more_than_most_at_once(cores, most):
    """With `most`, no more calls run at once than it says, however many cores pyarrow counts
    (the pair search's bands: their memory is per call), in the order of the items; the pool
    stays the machine's size; the first failing item's error is raised once every call has
    stopped, and the items before it all ran."""
    before = pa.cpu_count()
    pa.set_cpu_count(cores)
    try:
        lock = threading.Lock()
        running, peak, ran = [0], [0], []

        def work(x: int) -> int:
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.003)
            with lock:
                running[0] -= 1
                ran.append(x)
            if x in (13, 21):
                raise ValueError(f"item {x}")
            return 3 * x

        assert map_ordered(work, range(13), most=most) == [3 * x for x in range(13)]
        assert 1 <= peak[0] <= min(most, cores)
        if min(most, cores) > 1:
            assert peak[0] > 1  # they did run side by side
            assert parallel._pool_size == cores
        ran.clear()
        with pytest.raises(ValueError, match="item 13"):
            map_ordered(work, range(30), most=most)
        assert set(range(14)) <= set(ran) and running[0] == 0
    finally:
        pa.set_cpu_count(before)


def test_in_background_runs_meanwhile_and_splits_its_own_work(two_threads):
    """The work runs on a thread of its own while the caller goes on; work it splits across the
    worker threads finishes (as when the worker threads are busy with the caller's own
    splits); its result or its error comes out of result()."""
    started = threading.Event()
    go_on = threading.Event()
    where: list[int] = []

    def work() -> list[int]:
        where.append(threading.get_ident())
        started.set()
        assert go_on.wait(10)
        return map_ordered(lambda x: x + 1, range(20))

    future = in_background(work)
    assert started.wait(10)  # it started before the caller asked for anything
    assert map_ordered(lambda x: -x, range(20)) == [-x for x in range(20)]  # the caller splits too
    go_on.set()
    assert future.result(timeout=10) == list(range(1, 21))
    assert where != [threading.get_ident()]

    def fail() -> None:
        raise KeyError("in the background")

    with pytest.raises(KeyError, match="in the background"):
        in_background(fail).result(timeout=10)


def test_work_split_on_a_worker_thread_runs_there_and_finishes(two_threads):
    """Work that splits, called by work that was split (finish() scores campaigns' groups on the
    worker threads, and scoring splits its accounts): on a worker thread it runs item after
    item on that thread, in order, where waiting for the other workers, themselves waiting, would
    never end."""
    inner_threads: list[set[int]] = []

    def outer(x: int) -> list[int]:
        assert workers() == 1
        seen: set[int] = set()

        def inner(y: int) -> int:
            seen.add(threading.get_ident())
            return x * 100 + y

        got = map_ordered(inner, range(30))
        inner_threads.append(seen)
        assert seen == {threading.get_ident()}
        return got

    done = in_background(lambda: map_ordered(outer, range(8)))
    assert done.result(timeout=20) == [[x * 100 + y for y in range(30)] for x in range(8)]
    assert len(inner_threads) == 8
    assert workers() == 2  # the calling thread still splits


def test_split_when_splits_only_while_its_condition_holds(two_threads):
    here = threading.get_ident()
    other_waits = [False]
    assert workers() == 2
    with split_when(lambda: other_waits[0]):
        assert workers() == 1
        assert set(map_ordered(lambda _: threading.get_ident(), range(8))) == {here}
        other_waits[0] = True  # read at each call, not when the block starts
        assert workers() == 2
        other_waits[0] = False
        with split_when(lambda: True):
            assert workers() == 2
        assert workers() == 1  # the inner block gives the outer one's condition back
        seen = []
        other = threading.Thread(target=lambda: seen.append(workers()))
        other.start()
        other.join()
        assert seen == [2]  # another thread is not concerned
    assert workers() == 2
    assert threading.get_ident() not in set(map_ordered(lambda _: threading.get_ident(), range(8)))


class _Forced(_Pipe):
    """A pipe whose `consumer_waiting` the test sets (what the consumer writes is ignored)."""

    waiting = False

    @property
    def consumer_waiting(self) -> bool:
        return self.waiting

    @consumer_waiting.setter
    def consumer_waiting(self, value: bool) -> None:
        pass


def test_the_reading_thread_splits_only_while_the_consumer_waits(two_threads):
    """The scan loop's reading thread splits its work only while the folding thread waits for
    it, and the folding thread (through the pipe) only while the reading thread waits or is done."""
    pipe = _Forced()
    reader: list[tuple[int, int]] = []

    def items():
        for k in range(6):
            pipe.waiting = False
            busy = workers()
            pipe.waiting = True
            reader.append((busy, workers()))
            yield k

    got = []
    for k in _prefetch(items(), depth=1, pipe=pipe):
        got.append(k)
        if k == 2:  # the consumer is busy: the reader fills the queue, then waits for room
            deadline = time.monotonic() + 5
            while not pipe.reader_idle and time.monotonic() < deadline:
                time.sleep(0.001)
            assert pipe.reader_idle
    assert got == list(range(6))
    assert reader == [(1, 2)] * 6
    assert pipe.reader_idle  # done


def test_the_reading_threads_error_is_raised_to_the_consumer(two_threads):
    def items():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(_prefetch(items()))


def test_the_reading_thread_prepares_items_only_while_the_consumer_has_one_waiting():
    """With `prepare`, the reading thread hands over prepare(item) when the consumer is the slower
    stage (an item already waits for it) and the item itself when the consumer waits: in order
    either way."""

    def slow_items():
        for k in range(6):
            time.sleep(0.05)  # the consumer takes each item long before the next is read
            yield k

    got = list(_prefetch(slow_items(), prepare=lambda k: ("prepared", k)))
    assert got == list(range(6))

    got = []
    for item in _prefetch(iter(range(8)), depth=2, prepare=lambda k: ("prepared", k)):
        got.append(item)
        time.sleep(0.05)  # the reader fills the queue meanwhile
    assert [x[1] if isinstance(x, tuple) else x for x in got] == list(range(8))
    assert got[-1] == ("prepared", 7)
