"""The gate that keeps a CUDA graph capture alone in the process (runtime/capture_gate.py)."""

import threading

from flowenedet_core.runtime.capture_gate import CaptureGate


def started(target) -> threading.Thread:
    thread = threading.Thread(target=target)
    thread.start()
    return thread


def test_runs_share_the_gate_and_a_capture_waits_for_them_then_goes_before_later_runs():
    gate = CaptureGate()
    order: list[str] = []
    release_first_runs = threading.Event()
    both_running = threading.Barrier(3)

    def first_run(name: str) -> None:
        with gate.running():
            order.append(f"{name} in")
            both_running.wait()  # two runs hold the gate at once
            release_first_runs.wait()
            order.append(f"{name} out")

    def capture() -> None:
        with gate.capturing():
            order.append("capture")

    def late_run() -> None:
        with gate.running():
            order.append("late run")

    runs = [started(lambda name=name: first_run(name)) for name in ("a", "b")]
    both_running.wait()
    capturer = started(capture)
    while not gate._waiting_captures:  # the capture has asked
        threading.Event().wait(0.001)
    latecomer = started(late_run)
    assert "capture" not in order and "late run" not in order
    release_first_runs.set()
    for thread in (*runs, capturer, latecomer):
        thread.join(timeout=10)
        assert not thread.is_alive()
    assert sorted(order[:2]) == ["a in", "b in"]
    assert order.index("capture") > max(order.index("a out"), order.index("b out"))
    assert order[-1] == "late run"


def test_a_failed_capture_or_run_leaves_the_gate_open():
    gate = CaptureGate()
    for enter in (gate.capturing, gate.running):
        try:
            with enter():
                raise RuntimeError("CUDA error")
        except RuntimeError:
            pass
    with gate.capturing(), gate._condition:
        assert gate._capturing and not gate._running
    with gate.running():
        assert not gate._capturing
