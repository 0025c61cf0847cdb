"""The program under test as the grader handles it (grader/program.py): a suspend
freezes every thread, not just the one /proc/PID/stat shows."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap

import pytest

from grader.deadline import Deadline, poll_until
from grader.program import _stopped_or_gone

pytestmark = pytest.mark.timeout(60)

# A thread that vfork()s waits, uninterruptibly, until its child exits: a SIGSTOP
# stops the leader at once and this thread only when the child (not signalled
# here) is done.  That is the window where "the leader is stopped" is not
# "the program is frozen" (a thread woken by the stop may still be reading).
HELD_THREAD = textwrap.dedent("""\
    #include <pthread.h>
    #include <time.h>
    #include <unistd.h>
    #include <sys/wait.h>
    static void *held(void *arg) {
        (void)arg;
        pid_t child = vfork();
        if (child == 0) {
            struct timespec t = {2, 0};
            nanosleep(&t, NULL);
            _exit(0);
        }
        waitpid(child, NULL, 0);
        return NULL;
    }
    int main(void) {
        pthread_t t;
        pthread_create(&t, NULL, held, NULL);
        pthread_join(t, NULL);
        for (;;) pause();
    }
    """)


def _states(pid: int) -> list[str]:
    out = []
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            stat = f.read()
        out.append(stat[stat.rfind(")") + 2])
    return out


def test_a_program_is_stopped_only_once_every_thread_is(tmp_path):
    (tmp_path / "held.c").write_text(HELD_THREAD)
    subprocess.run(["cc", "-O2", "-pthread", "-o", str(tmp_path / "held"), str(tmp_path / "held.c")],
                   check=True)
    proc = subprocess.Popen([str(tmp_path / "held")])
    try:
        assert poll_until(lambda: _states(proc.pid)[1:] == ["D"], Deadline.after(5, "the vfork"))
        os.kill(proc.pid, signal.SIGSTOP)
        assert poll_until(lambda: _states(proc.pid)[0] == "T", Deadline.after(5, "the stop"))
        # the leader shows "T"; the vforking thread has not stopped yet
        assert _states(proc.pid)[1] == "D"
        assert not _stopped_or_gone(proc.pid)
        # once the child is done the thread takes its stop, and the program is stopped
        assert poll_until(lambda: _stopped_or_gone(proc.pid), Deadline.after(10, "every thread"))
        assert set(_states(proc.pid)) == {"T"}
    finally:
        proc.kill()
        proc.wait()
    assert _stopped_or_gone(proc.pid)       # gone
