import threading
import time

from flowenedet_ros.frame_worker import LatestFrameWorker


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_worker_serves_the_latest_frame_and_counts_the_replaced_ones():
    started, release, served = threading.Event(), threading.Event(), []

    def handle(item):
        if item == 0:  # the first frame is slow: 1..9 arrive meanwhile
            started.set()
            release.wait(5)
        served.append(item)

    worker = LatestFrameWorker(handle)
    worker.submit(0)
    assert started.wait(5)
    for item in range(1, 10):
        worker.submit(item)
    release.set()
    wait_until(lambda: served[-1:] == [9])
    worker.stop()
    assert served == [0, 9]
    assert worker.received == 10 and worker.dropped == 8


def test_a_failing_handler_does_not_stop_later_frames():
    served = []

    def handle(item):
        served.append(item)
        if item == 0:
            raise RuntimeError("boom")

    worker = LatestFrameWorker(handle)
    for item in range(3):
        worker.submit(item)
        wait_until(lambda item=item: item in served)
    worker.stop()
    assert served == [0, 1, 2] and worker.dropped == 0
