"""The namespaced boxes (grader.sandbox), tested directly through the Box interface.

Every test that needs a namespaced tier runs for each tier this machine allows
("root" needs root; "userns" works as root too, through a dropped uid) and is
skipped, with the reason, where none is.  Every box is closed and checked for
leftovers (processes, cgroups, mounts, uid locks) by the ``boxes`` fixture.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import psutil
import pytest

from grader import sandbox
from grader.box import Limits, LocalBox
from grader.cgroups import PARENT_NAME, probe as probe_cgroups
from grader.deadline import Deadline, poll_until
from grader.errors import GraderError
from grader.netinfo import task_state
from grader.sandbox import TIER_ROOT, TIER_USERNS, NsBox, TierInfo, detect_tier, open_box

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux namespaces")]

PORT = 5001
ECHO_SERVER = textwrap.dedent("""
    import socket, sys
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen()
    while True:
        c, _ = s.accept()
        c.sendall(sys.argv[2].encode() + c.recv(100))
        c.close()
""")
# Parent exits at once; a grandchild in its own session, with an emptied
# environment (so no marker finds it), keeps the port.
DAEMON = textwrap.dedent("""
    import os, sys
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    os.execve(sys.executable, [sys.executable, "-c", sys.argv[1], sys.argv[2], "daemon:", sys.argv[3]], {})
""")


# ---------------------------------------------------------------- fixtures --

def _available(option: str) -> str:
    """'' if the tier works here, else why not."""
    try:
        open_box(option).close()
        return ""
    except GraderError as e:
        return str(e)


@pytest.fixture(scope="module")
def tier_problems() -> dict[str, str]:
    return {"root": _available("root"), "userns": _available("userns")}


@pytest.fixture(params=["root", "userns"])
def tier(request, tier_problems) -> str:
    problem = tier_problems[request.param]
    if problem:
        pytest.skip(f"tier {request.param} not available here: {problem}")
    return request.param


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="sg-test-"))
    yield path
    shutil.rmtree(path)


def _cgroup_dirs() -> list[Path]:
    """This process's box groups (other graders on the machine share the parent)."""
    support = probe_cgroups()
    return [d for _, base in support.bases for d in (base / PARENT_NAME).glob(f"box-{os.getpid()}-*")]


def _mounts() -> int:
    return len(Path("/proc/self/mountinfo").read_text().splitlines())


@pytest.fixture
def boxes():
    """Opens boxes on demand; closes them and checks that nothing is left."""
    opened: list[NsBox] = []
    mounts = _mounts()

    def make(option: str) -> NsBox:
        box = open_box(option)
        assert isinstance(box, NsBox)
        opened.append(box)
        return box

    yield make
    helpers = [(b.init_pid, b._link.outer.pid) for b in opened if not b._closed]
    # Held open across the check: a freed namespace's inode number is given to the next
    # one made (the lowest free), maybe another test worker's box, whose processes
    # would then look like ours.
    held_netns = [_hold_netns(pid) for pid, _ in helpers]
    netns = {os.fstat(fd).st_ino for fd in held_netns}
    held = [box for box in opened if box._slot is not None and not box._closed]
    for box in held:                    # (so that the check after closing means something)
        assert _we_hold(f"@socket-grader/uid/{box._slot.uid}"), box._slot.uid
    for box in opened:
        box.close()
    for init_pid, outer_pid in helpers:
        assert not psutil.pid_exists(outer_pid) or psutil.Process(outer_pid).status() == "zombie"
    try:
        assert not _processes_in(netns), "a process of a closed box is still running: " + \
            _show(_processes_in(netns))
    finally:
        for fd in held_netns:
            os.close(fd)
    assert _mounts() == mounts, "the grader's mount table changed"
    assert not _cgroup_dirs(), "a box cgroup was left behind"
    for box in opened:
        if box._slot is not None:       # we hold its uid lock no more (another grader may)
            assert not _we_hold(f"@socket-grader/uid/{box._slot.uid}"), box._slot.uid


def _we_hold(abstract_name: str) -> bool:
    """One of this process's fds is the socket bound to ``abstract_name``."""
    inodes = set()
    with open("/proc/net/unix") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == abstract_name:
                inodes.add(fields[6])
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") in {f"socket:[{i}]" for i in inodes}:
                return True
        except OSError:
            pass
    return False


def _hold_netns(pid: int) -> int:
    return os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def _show(pids: list[int]) -> str:
    """What each process is (to tell a leftover from a stranger)."""
    said = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            said.append(f"{pid} ({p.status()}, parent {p.ppid()}): {' '.join(p.cmdline())[:120]}")
        except psutil.Error:
            said.append(f"{pid} (gone)")
    return "; ".join(said)


def _processes_in(netns: set[int]) -> list[int]:
    found = []
    for p in psutil.process_iter():
        try:
            if os.stat(f"/proc/{p.pid}/ns/net").st_ino in netns:
                found.append(p.pid)
        except OSError:
            continue
    return found


def _with_marker(marker: str) -> list[int]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if marker in " ".join(p.info["cmdline"] or []):
            found.append(p.pid)
    return found


def _connect(box, port: int, payload: bytes = b"ping") -> bytes | None:
    """The server's reply through a socket of the box, or None if it is not up yet."""
    with box.socket() as s:
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return None
        s.sendall(payload)
        return s.recv(100)


def _start_echo(box, workdir: Path, tag: str):
    box.prepare_workdir(workdir)
    proc = box.spawn(["python3", "-c", ECHO_SERVER, str(PORT), tag], cwd=workdir)
    reply = poll_until(lambda: _connect(box, box.choose_port(PORT)), Deadline.after(10, "the echo server"))
    return proc, reply


# -------------------------------------------------------------------- tests --

def test_echo_server_in_box(tier, boxes, workdir):
    box = boxes(tier)
    proc, reply = _start_echo(box, workdir, "A:")
    assert reply == b"A:ping"
    assert box.choose_port(PORT) == PORT and box.host == "127.0.0.1"
    # Proc.pid is the host pid: /proc shows the program there, one level down in pid namespaces.
    status = Path(f"/proc/{proc.pid}/status").read_text()
    nspids = next(line for line in status.splitlines() if line.startswith("NSpid:")).split()[1:]
    assert len(nspids) == 2 and int(nspids[0]) == proc.pid and int(nspids[1]) == proc.nspid
    assert proc.pid in proc.tree_pids()
    # The host's loopback does not reach the box (something else may listen there).
    assert _host_reply(PORT) != b"A:ping"
    proc.kill()
    assert proc.poll() == -signal.SIGKILL
    assert box.tier == {"root": TIER_ROOT, "userns": TIER_USERNS}[tier]


@pytest.mark.skipif(not Path("/proc/sys/net/ipv4/tcp_child_ehash_entries").exists(),
                    reason="Linux before 5.19: every network shares the host's TCP hash table")
def test_a_tests_network_has_a_tcp_hash_table_of_its_own(tier, boxes, workdir):
    """Else every read of its /proc/net/tcp (to judge a wait) walks the host's whole table."""
    from grader.boxhelper import TEST_TCP_HASH
    box = boxes(tier)
    box.prepare_workdir(workdir)
    world = box.open_world()
    try:
        proc = world.spawn(["cat", "/proc/sys/net/ipv4/tcp_ehash_entries"], cwd=workdir)
        assert proc.wait(Deadline.after(10, "cat")) == 0
        assert proc.stdout.join(Deadline.after(5, "its output"))
        assert int(proc.stdout.data) == TEST_TCP_HASH      # negative: the host's, shared
    finally:
        world.close()


def _host_reply(port: int) -> bytes | None:
    with socket.socket() as s:
        s.settimeout(1)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"ping")
            return s.recv(100)
        except OSError:
            return None


def test_two_boxes_same_port(tier, boxes):
    dirs = [Path(tempfile.mkdtemp(prefix="sg-test-")) for _ in range(2)]
    try:
        a, b = boxes(tier), boxes(tier)
        _, reply_a = _start_echo(a, dirs[0], "A:")
        _, reply_b = _start_echo(b, dirs[1], "B:")
        assert (reply_a, reply_b) == (b"A:ping", b"B:ping")
    finally:
        for d in dirs:
            shutil.rmtree(d)


def test_a_box_whose_init_does_not_answer_is_empty_once_closed(tier, boxes, workdir, monkeypatch):
    """The helper killed from outside takes init (PDEATHSIG), and init the box, but
    not at once: close() returns only once they are gone (the fixture checks)."""
    monkeypatch.setattr(sandbox, "REQUEST_TIMEOUT", 0.5)
    monkeypatch.setattr(sandbox, "KILL_GRACE", 0.5)
    # (The end of the helper's stderr, which init holds too, is not what close() waits on.)
    monkeypatch.setattr(sandbox.OutputCapture, "join", lambda self, deadline: None)
    box = boxes(tier)
    box.prepare_workdir(workdir)
    # A process that takes a while to die: its exit frees the 512 MiB it has written to.
    big = box.spawn(["python3", "-c", "import sys, time; b = b'x' * (1 << 29); "
                     "open('big', 'w').close(); time.sleep(60)"], cwd=workdir)
    proc, reply = _start_echo(box, workdir, "A:")
    assert reply == b"A:ping"
    assert poll_until(lambda: (workdir / "big").exists(), Deadline.after(20, "the 512 MiB"))
    init = box.init_pid
    os.kill(init, signal.SIGSTOP)              # it can no longer answer, nor exit by itself
    held = _hold_netns(init)
    try:
        netns = os.fstat(held).st_ino
        box.close()
        assert task_state(big.pid) in ("Z", "X") and task_state(init) in ("Z", "X")
        assert "the box had to be killed from outside" in box.notes
        assert not _processes_in({netns}), "a process of the box outlived its close(): " + \
            _show(_processes_in({netns}))
    finally:
        os.close(held)
    assert proc.poll() is not None and big.poll() is not None


def test_setsid_daemon_dies_with_the_box(tier, boxes, workdir):
    box = boxes(tier)
    box.prepare_workdir(workdir)
    marker = f"sg-daemon-{uuid.uuid4().hex}"
    proc = box.spawn(["python3", "-c", DAEMON, ECHO_SERVER, str(PORT), marker], cwd=workdir)
    assert proc.wait(Deadline.after(10, "the daemon's parent")) == 0
    assert poll_until(lambda: _connect(box, PORT), Deadline.after(10, "the daemon")) == b"daemon:ping"
    assert _with_marker(marker)
    box.close()
    assert not _with_marker(marker)


def test_kill_takes_the_daemon_and_the_port_is_free_again(tier, boxes, workdir):
    box = boxes(tier)
    box.prepare_workdir(workdir)
    marker = f"sg-daemon-{uuid.uuid4().hex}"
    proc = box.spawn(["python3", "-c", DAEMON, ECHO_SERVER, str(PORT), marker], cwd=workdir)
    assert poll_until(lambda: _connect(box, PORT), Deadline.after(10, "the daemon")) == b"daemon:ping"
    proc.kill()
    assert not _with_marker(marker)
    again = box.spawn(["python3", "-c", ECHO_SERVER, str(PORT), "again:"], cwd=workdir)
    assert poll_until(lambda: _connect(box, PORT), Deadline.after(10, "the restart")) == b"again:ping"
    again.kill()


def test_exit_statuses_signals_and_stdin(tier, boxes, workdir):
    box = boxes(tier)
    box.prepare_workdir(workdir)
    pipe = box.spawn(["python3", "-c", "import os, signal; signal.signal(signal.SIGPIPE, signal.SIG_DFL);"
                      " r, w = os.pipe(); os.close(r); os.write(w, b'x')"], cwd=workdir)
    assert pipe.wait(Deadline.after(10)) == -signal.SIGPIPE
    sleeper = box.spawn(["sleep", "30"], cwd=workdir)
    sleeper.send_signal(signal.SIGTERM)
    assert sleeper.wait(Deadline.after(10)) == -signal.SIGTERM
    cat = box.spawn(["sh", "-c", "grep SigIgn /proc/self/status; cat; exit 3"], cwd=workdir, stdin=b"fed")
    assert cat.wait(Deadline.after(10)) == 3
    assert cat.stdout.join(Deadline.after(5))
    # No signal is ignored by inheritance (Python's SIG_IGN for SIGPIPE must not leak).
    assert cat.stdout.data == b"SigIgn:\t0000000000000000\nfed"
    with pytest.raises(FileNotFoundError):
        box.spawn(["./no-such-program"], cwd=workdir)


def test_build_and_file_system_view(tier, boxes, workdir):
    box = boxes(tier)
    secret = Path(tempfile.mkdtemp(prefix="sg-secret-"))
    try:
        (secret / "answer.txt").write_text("42")
        (workdir / "s.c").write_text('#include <stdio.h>\nint main(void){puts("built");return 0;}\n')
        box.prepare_workdir(workdir)
        cc = box.spawn(["cc", "-o", "s", "s.c"], cwd=workdir)
        assert cc.wait(Deadline.after(30, "cc")) == 0, cc.stderr.tail()
        script = (f"./s; id -u; cat {secret}/answer.txt; touch /usr/x; echo hi > /tmp/t && cat /tmp/t;"
                  f" ls /work/main/specs; cat /etc/shadow")
        sh = box.spawn(["sh", "-c", script], cwd=workdir)
        sh.wait(Deadline.after(10))
        sh.stdout.join(Deadline.after(5))
        sh.stderr.join(Deadline.after(5))
        out, err = sh.stdout.data.decode(), sh.stderr.data.decode()
        assert out.splitlines()[0] == "built" and "hi" in out
        assert "42" not in out and "No such file" in err          # outside the workdir: invisible
        assert "Read-only file system" in err and "Permission denied" in err
        if os.geteuid() == 0:
            assert int(out.splitlines()[1]) == box.uid != 0
            assert (workdir / "s").stat().st_uid == box.uid
    finally:
        shutil.rmtree(secret)


def test_spawn_outside_a_prepared_workdir_is_refused(tier, boxes, workdir):
    box = boxes(tier)
    with pytest.raises(ValueError, match="prepare_workdir"):
        box.spawn(["true"], cwd=workdir)


@pytest.mark.skipif(os.geteuid() != 0, reason="cgroups and per-box uids need root")
def test_process_and_memory_caps(boxes, workdir, tier_problems):
    if tier_problems["root"]:
        pytest.skip(tier_problems["root"])
    box = boxes("root")
    box.prepare_workdir(workdir)
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    limits = Limits(processes=16, memory_bytes=64 << 20)
    proc = box.spawn(["python3", "-c", bomb], cwd=workdir, limits=limits)
    assert poll_until(lambda: len(box.box_pids()) >= 12, Deadline.after(10, "the fork bomb"))
    assert len(box.box_pids()) <= 16
    proc.kill()
    assert box.box_pids() == []
    if box._cgroup is not None:
        mem = box._cgroup.dirs["memory"] / "memory.limit_in_bytes"
        assert int(mem.read_text()) >= 64 << 20
        hog = box.spawn(["python3", "-c", "x = bytearray(200 << 20)"], cwd=workdir, limits=limits)
        assert hog.wait(Deadline.after(10)) != 0


def test_endless_printer_is_capped(tier, boxes, workdir):
    box = boxes(tier)
    box.prepare_workdir(workdir)
    proc = box.spawn(["yes"], cwd=workdir, limits=Limits(output_bytes=4096))
    assert poll_until(lambda: proc.stdout.dropped > 1 << 20, Deadline.after(10, "output"))
    proc.kill()
    assert len(proc.stdout.data) == 4096 and proc.stdout.truncated


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become a throwaway uid")
def test_unprivileged_grader_gets_the_userns_tier(workdir):
    """A grader running as an ordinary uid: detection, a box, an echo, a clean close."""
    uid = 61990
    os.chown(workdir, uid, uid)
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    code = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        import psutil, grader.sandbox as sb, tests.test_sandbox as t
        from grader.deadline import Deadline, poll_until
        os.setgroups([]); os.setresgid({uid}, {uid}, {uid}); os.setresuid({uid}, {uid}, {uid})
        opts = sb.BoxOptions(python={python!r})
        info = sb.detect_tier(opts)
        if info.tier != sb.TIER_USERNS:
            print("SKIP", info.reason, info.advice); sys.exit(0)
        box = sb.open_box("userns", opts)
        box.prepare_workdir({str(workdir)!r})
        proc = box.spawn(["python3", "-c", t.ECHO_SERVER, "5001", "U:"], cwd={str(workdir)!r})
        reply = poll_until(lambda: t._connect(box, 5001), Deadline.after(10))
        helper = box._link.outer.pid
        box.close()
        print("OK" if reply == b"U:ping" and not psutil.pid_exists(helper) else "BAD %r" % reply)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50)
    assert out.returncode == 0, out.stderr
    if out.stdout.startswith("SKIP"):
        pytest.skip(out.stdout)
    assert out.stdout.strip() == "OK", out.stdout + out.stderr


def test_choosing_a_tier():
    info = detect_tier()
    assert isinstance(info, TierInfo) and info.tier in sandbox.TIERS and info.reason
    assert sandbox.TIER_OPTIONS[info.option] == info.tier
    local = open_box("none")
    assert isinstance(local, LocalBox) and local.tier == "unsandboxed"
    with pytest.raises(GraderError, match="unknown tier"):
        open_box("chroot")
    if os.geteuid() != 0:
        with pytest.raises(GraderError, match="not available"):
            open_box("root")
    box = open_box("auto")
    try:
        assert box.tier == info.tier
    finally:
        box.close()


def test_advice_names_the_setting_that_blocks_user_namespaces(monkeypatch):
    folder = Path(tempfile.mkdtemp(prefix="sg-test-"))
    try:
        for name, value in (("apparmor", "1"), ("clone", "1"), ("max", "100")):
            (folder / name).write_text(value)
        monkeypatch.setattr(sandbox, "APPARMOR_SYSCTL", str(folder / "apparmor"))
        monkeypatch.setattr(sandbox, "USERNS_CLONE_SYSCTL", str(folder / "clone"))
        monkeypatch.setattr(sandbox, "MAX_USERNS_SYSCTL", str(folder / "max"))
        assert "kernel.apparmor_restrict_unprivileged_userns=0" in sandbox.userns_advice()
        (folder / "apparmor").write_text("0")
        (folder / "max").write_text("0")
        assert "user.max_user_namespaces" in sandbox.userns_advice()
        (folder / "max").write_text("100")
        assert "seccomp=unconfined" in sandbox.userns_advice()
    finally:
        shutil.rmtree(folder)


def test_doctor_reports_the_tier(capsys):
    import argparse
    import json

    from grader.cli import doctor
    code = doctor.run(argparse.Namespace(json=True))
    report = json.loads(capsys.readouterr().out)
    assert report["tier"]["tier"] in sandbox.TIERS
    assert code == (1 if report["tier"]["tier"] == "unsandboxed" else 0)
    assert any(c["name"] == "tier userns" for c in report["checks"])
