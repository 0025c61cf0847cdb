"""OutputCapture: what a program wrote, kept in order, capped, and whole when it is read."""

from __future__ import annotations

import os
import threading

import pytest

from grader.box import OutputCapture
from grader.deadline import Deadline

pytestmark = pytest.mark.timeout(30)


class _Stalled(OutputCapture):
    """A capture whose thread has not run yet (as on a busy machine)."""

    def __init__(self, pipe, cap: int) -> None:
        self.go = threading.Event()
        super().__init__(pipe, cap)

    def _drain(self) -> None:
        self.go.wait(20)
        super()._drain()


def _pipe():
    r, w = os.pipe()
    return os.fdopen(r, "rb", 0), w


def test_last_words_are_read_even_before_the_thread_runs():
    # A program that prints its error and exits: the tail read at once must hold it
    # (CI once showed "exited with status 3" without the message the program printed).
    r, w = _pipe()
    cap = _Stalled(r, 1 << 20)
    try:
        os.write(w, b"cannot parse the port\n")
        os.close(w)
        assert cap.tail() == "cannot parse the port"
    finally:
        cap.go.set()
    assert cap.join(Deadline.after(5))
    assert cap.data == b"cannot parse the port\n"      # read once, not twice


def test_reads_from_both_sides_keep_the_order_and_the_cap():
    r, w = _pipe()
    cap = OutputCapture(r, 5000)
    sent = b"".join(b"%05d\n" % i for i in range(2000))
    for i in range(0, len(sent), 60):
        os.write(w, sent[i:i + 60])
        if i % 600 == 0:
            cap.data                                    # the reader's side takes some
    os.close(w)
    assert cap.join(Deadline.after(5))
    assert cap.data == sent[:5000]
    assert cap.dropped == len(sent) - 5000
    assert cap.tail().endswith(f"[output cut: {len(sent) - 5000} more bytes were not kept]")


def test_a_writer_that_stays_open_does_not_hold_up_a_read():
    r, w = _pipe()
    cap = OutputCapture(r, 1 << 20)
    try:
        os.write(w, b"partial")
        assert cap.data == b"partial"                   # no wait for the end of the pipe
        assert not cap.join(Deadline.after(0.05))
    finally:
        os.close(w)
    assert cap.join(Deadline.after(5))
