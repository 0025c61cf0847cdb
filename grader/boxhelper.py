"""The helper that lives inside a namespaced box (pid 1 of the box).

Theory of operation
-------------------
The grader starts this file as ``python -I -S boxhelper.py FD`` where FD is
one end of an AF_UNIX SOCK_SEQPACKET socket pair (the *control* socket).  The
file is self-contained (standard library only, nothing from ``grader``) and
imports only cheap modules, because its start-up is most of a box's cost.

Two processes make a box:

* the **outer** process reads the box's config from the control socket, enters
  the new namespaces with ``unshare(2)`` (network, mount, pid, IPC, UTS; and a
  user namespace in the ``userns`` tier), forks **init**, waits for it and
  exits with it.  It never runs anything else.
* **init** is pid 1 of the new pid namespace.  It builds the filesystem view,
  brings ``lo`` up, says ``ready``, then serves the grader's requests one at a
  time until the grader says ``shutdown`` or goes away (EOF on the control
  socket).  When init exits, the kernel SIGKILLs every other process of the pid
  namespace, so nothing started in the box (a setsid daemon included) can
  outlive it.  ``PR_SET_PDEATHSIG`` ties init to the outer process, so killing
  the outer process also empties the box.

Requests (one marshal-encoded dict per message, file descriptors as
SCM_RIGHTS; every request gets exactly one reply ``{"ok": bool, ...}``):

``spawn``     fds = [stdin, stdout, stderr, chan].  Fork, set the child up
              (below) and exec.  The child sends ``hello`` on *chan* just
              before exec; the grader set SO_PASSCRED on its end, so the
              kernel stamps that message with the child's pid translated into
              the grader's pid namespace: that is how the grader learns the
              host pid.  Init reports exec failures like subprocess does (a
              CLOEXEC pipe) and, when it reaps the program, sends ``exit``
              with the wait status on *chan* and closes it.
``net_open``  a test's world: a fresh network namespace (its own ``lo``, up,
              and nothing else) and a fresh, empty /tmp and /dev/shm for the
              programs spawned from now on; one per test, so nothing a test
              leaves (a TIME_WAIT, a port still bound, files in /tmp, a full
              /tmp) reaches the next.  Replies ``{"net": id}``; ``spawn`` and
              ``socket`` take ``net: id``.
``net_close`` forget network ``id``: the kernel removes it (and every socket
              still in it) once no process of it is left.
``socket``    a socket created here, i.e. in the box's network namespace
              (or in network ``net``).
``expose``    bind a host directory into the view (read-write for workdirs).
``kill``      SIGKILL a program and what it started (see ``kill_for``).
``shutdown``  kill everything, reply, exit.

Filesystem view: init mounts a tmpfs on /tmp of its private mount namespace,
pivots into it (the host tree stays reachable at ``/oldroot``, for init only)
and builds the box's root at ``/newroot``: an allow-list of read-only bind
mounts (/usr, /etc, ... and the grader's Python), a minimal /dev, a fresh
/proc (hidepid=2) and /tmp.  Each spawned child unshares its own mount
namespace (a copy of init's), pivots into ``/newroot`` and detaches the rest,
so the host tree is not reachable from it at all.  New mounts under
``/newroot`` (``expose``) are made by init and seen by the next spawns.

The child then drops privileges: to the box's own host uid (root tier), or
into a nested user namespace where it is an ordinary uid (userns tier);
``PR_SET_NO_NEW_PRIVS`` and nosuid mounts keep it there.
"""

import ctypes
import fcntl
import marshal
import os
import resource
import select
import struct
import sys
import time
import _signal
import _socket

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
BOX_NAMESPACES = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV = 1, 2, 4
AT_EMPTY_PATH, AT_RECURSIVE = 0x1000, 0x8000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
CLOSE_RANGE_CLOEXEC = 4
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

# pivot_root has no glibc wrapper; newer calls share one number on every arch.
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203,
                  "s390x": 217, "i686": 217, "armv7l": 218}
SYS_CLOSE_RANGE = 436
SYS_MOUNT_SETATTR = 442

MAX_MESSAGE = 256 * 1024
MAX_FDS = 8
KILL_GRACE = 2.0          # seconds init waits for killed processes to be reaped
DEV_NODES = ("null", "zero", "full", "random", "urandom")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
             "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
OLD = "/oldroot"          # the host tree, as init sees it
NEW = "/newroot"          # the box's root, as init sees it
PROC = NEW + "/proc"      # the box's /proc (init's way to /proc/self/fd)

libc = ctypes.CDLL(None, use_errno=True)


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


class StageError(Exception):
    """A setup step failed; ``stage`` says which, for the grader's message."""

    def __init__(self, stage, err):
        super().__init__(stage, err)
        self.stage = stage
        self.err = err

    def as_dict(self):
        err = self.err
        if isinstance(err, OSError):
            return {"stage": self.stage, "errno": err.errno, "strerror": err.strerror,
                    "filename": err.filename}
        return {"stage": self.stage, "errno": 0, "strerror": repr(err), "filename": None}


# ---------------------------------------------------------------- syscalls --

def _check(result, what, path=None):
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)), path)
    return result


def _b(path):
    return None if path is None else os.fsencode(path)


def unshare(flags):
    _check(libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd, nstype):
    _check(libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source, target, fstype, flags, data=None):
    _check(libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
           "mount", target)


def umount2(target, flags):
    _check(libc.umount2(_b(target), ctypes.c_int(flags)), "umount2", target)


def pivot_root(new_root, put_old):
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(38, "pivot_root: unknown syscall number on " + os.uname().machine)
    _check(libc.syscall(ctypes.c_long(number), _b(new_root), _b(put_old)), "pivot_root")


def prctl(option, value):
    _check(libc.prctl(ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0),
                      ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl")


def set_mount_attr(fd, attr_set, attr_clr=0, recursive=True):
    """Change the mount at O_PATH ``fd``: mount_setattr(2) (5.12+), else a remount.

    The remount fallback keeps the flags a user namespace may not clear.
    """
    attr = MountAttr(attr_set, attr_clr, 0, 0)
    flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
    res = libc.syscall(ctypes.c_long(SYS_MOUNT_SETATTR), ctypes.c_int(fd), b"",
                       ctypes.c_uint(flags), ctypes.byref(attr), ctypes.c_size_t(32))
    if res == 0:
        return
    if ctypes.get_errno() != 38:     # ENOSYS: an old kernel; anything else is real
        _check(res, "mount_setattr")
    keep = os.statvfs(fd).f_flag & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | 1024 | 2048)
    mount(None, fd_path(fd), None, MS_REMOUNT | MS_BIND | ((keep | attr_set) & ~attr_clr))


def set_attr_at(path, attr_set, attr_clr=0, recursive=True):
    fd = os.open(path, os.O_PATH | os.O_DIRECTORY)
    try:
        set_mount_attr(fd, attr_set, attr_clr, recursive)
    finally:
        os.close(fd)


def mark_all_cloexec():
    """Every fd >= 3 closes at exec (close_range, or /proc/self/fd on old kernels)."""
    if libc.syscall(ctypes.c_long(SYS_CLOSE_RANGE), ctypes.c_uint(3), ctypes.c_uint(0xFFFFFFFF),
                    ctypes.c_uint(CLOSE_RANGE_CLOEXEC)) == 0:
        return
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass


# ---------------------------------------------------------------- messages --

def send(sock, obj, fds=()):
    data = marshal.dumps(obj, 4)
    anc = []
    if fds:
        anc.append((_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds)))
    sock.sendmsg([data], anc)


def recv(sock, max_fds=MAX_FDS):
    """One message: (obj or None at EOF, fds, creds (pid, uid, gid) or None)."""
    space = _socket.CMSG_SPACE(max_fds * 4) + _socket.CMSG_SPACE(12)
    data, anc, flags, _ = sock.recvmsg(MAX_MESSAGE, space)
    fds, creds = [], None
    for level, kind, payload in anc:
        if level != _socket.SOL_SOCKET:
            continue
        if kind == _socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % 4
            fds.extend(struct.unpack("%di" % (usable // 4), payload[:usable]))
        elif kind == _socket.SCM_CREDENTIALS and len(payload) >= 12:
            creds = struct.unpack("iII", payload[:12])
    for fd in fds:
        os.set_inheritable(fd, False)
    if flags & (_socket.MSG_CTRUNC | _socket.MSG_TRUNC):
        for fd in fds:
            os.close(fd)
        raise OSError(90, "message or its file descriptors were cut")
    if not data:
        for fd in fds:
            os.close(fd)
        return None, [], creds
    return marshal.loads(data), fds, creds


# ------------------------------------------------------------ filesystem --

def open_dir(root, path, create):
    """An O_PATH fd of ``root + path`` reached without following any symlink.

    A program in the box may plant symlinks in the directories it can write; a
    walk that refuses symlinks cannot be sent outside ``root`` by one.
    """
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        for part in [p for p in path.split("/") if p]:
            if part == "..":
                raise OSError(1, "'..' in a box path", path)
            if create:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
            child = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def fd_path(fd):
    return "%s/self/fd/%d" % (PROC, fd)


def bind_dir(path, writable):
    """Bind host ``path`` at the same path in the box (recursively)."""
    src = open_dir(OLD, path, create=False)
    try:
        dst = open_dir(NEW, path, create=True)
        try:
            mount(fd_path(src), fd_path(dst), None, MS_BIND | MS_REC)
        finally:
            os.close(dst)
    finally:
        os.close(src)
    attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (0 if writable else MOUNT_ATTR_RDONLY)
    top = open_dir(NEW, path, create=False)      # now the bind mount's root
    try:
        set_mount_attr(top, attrs)
    finally:
        os.close(top)


def place_readonly(path):
    """A read-only entry of the allow-list: a symlink is copied, a directory bound."""
    host = OLD + path
    if os.path.islink(host):
        os.symlink(os.readlink(host), NEW + path)
    elif os.path.isdir(host):
        bind_dir(path, writable=False)


def tmpfs(target, mode, size, flags=MS_NOSUID | MS_NODEV):
    os.makedirs(target, exist_ok=True)
    mount("tmpfs", target, "tmpfs", flags, "mode=%s,size=%s" % (mode, size))


def make_dev(shm_size):
    dev = NEW + "/dev"
    tmpfs(dev, "0755", "64k", MS_NOSUID | MS_NOEXEC)
    for name in DEV_NODES:
        os.close(os.open(dev + "/" + name, os.O_CREAT | os.O_WRONLY, 0o666))
        mount(OLD + "/dev/" + name, dev + "/" + name, None, MS_BIND)
    for name, target in DEV_LINKS.items():
        os.symlink(target, dev + "/" + name)
    tmpfs(dev + "/shm", "1777", shm_size)
    set_attr_at(dev, MOUNT_ATTR_RDONLY, recursive=False)


def make_proc():
    """A /proc of the box's pid namespace; the host's as a last resort."""
    os.mkdir(PROC)
    for data in ("hidepid=2", None):
        try:
            mount("proc", PROC, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, data)
            return "own"
        except OSError:
            continue
    mount(OLD + "/proc", PROC, None, MS_BIND | MS_REC)
    return "host"


def build_root(cfg):
    """Private mount tree; pivot to a tmpfs; build the box's root at /newroot."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64k")
    os.chdir("/tmp")
    os.mkdir("newroot")
    os.mkdir("oldroot")
    pivot_root(".", "oldroot")
    os.chdir("/")
    tmpfs(NEW, "0755", "1m")
    proc = make_proc()
    make_dev(cfg["shm_size"])
    tmpfs(NEW + "/tmp", "1777", cfg["tmp_size"])
    for path in cfg["readonly"]:
        place_readonly(path)
    set_attr_at(NEW, MOUNT_ATTR_RDONLY, recursive=False)
    return proc


def expose(path, writable):
    """Bind one more host directory into the box (seen by later spawns)."""
    set_attr_at(NEW, 0, MOUNT_ATTR_RDONLY, recursive=False)
    try:
        bind_dir(path, writable)
    finally:
        set_attr_at(NEW, MOUNT_ATTR_RDONLY, recursive=False)


def loopback_up():
    """Bring lo up; the ioctl must go through a socket of the box's netns."""
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        ifr = bytearray(struct.pack("16sH", b"lo", 0).ljust(40, b"\0"))
        fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, ifr)
        flags = struct.unpack_from("H", ifr, 16)[0]
        struct.pack_into("H", ifr, 16, flags | IFF_UP)
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, ifr)
    finally:
        sock.close()


# Buckets of the TCP hash table of each test's network.  By default every network
# namespace shares the host's table (262144 buckets on a 24 GiB machine), and every
# read of a test's /proc/net/tcp walks all of it: 4 ms, many times a second while a
# wait is judged (grader.stuck).  A table of its own is walked in microseconds.
TEST_TCP_HASH = 2048


def own_tcp_hash():
    """Networks made from now on get a TCP hash table of their own (Linux 5.19 and newer;
    elsewhere nothing changes)."""
    try:
        with open(PROC + "/sys/net/ipv4/tcp_child_ehash_entries", "w") as f:
            f.write(str(TEST_TCP_HASH))
    except OSError:
        pass


# ------------------------------------------------------- the spawned child --

def enter_box_root(cwd):
    unshare(CLONE_NEWNS)
    os.chdir(NEW)
    pivot_root(".", ".")
    umount2(".", MNT_DETACH)
    os.chdir("/")
    os.chdir(cwd)


def drop_capability_bounding_set():
    """No capability can come back, even through a file capability."""
    for cap in range(64):
        if libc.prctl(ctypes.c_int(PR_CAPBSET_DROP), ctypes.c_ulong(cap), ctypes.c_ulong(0),
                      ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
            return              # EINVAL: past the last capability this kernel knows


def drop_privileges(req):
    """Root tier: the box's own uid.  Userns tier: a nested user namespace."""
    if req["uid"] is not None:
        drop_capability_bounding_set()
        os.setgroups([])
        os.setresgid(req["gid"], req["gid"], req["gid"])
        os.setresuid(req["uid"], req["uid"], req["uid"])
        return
    unshare(CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", "%d 0 1" % req["inner_uid"]),
                       ("gid_map", "%d 0 1" % req["inner_gid"])):
        with open("/proc/self/" + name, "w") as f:
            f.write(text)
    drop_capability_bounding_set()


def set_rlimits(pairs):
    for res, value in pairs:
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            pass


def reset_signals():
    for sig in (_signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGINT, _signal.SIGCHLD,
                _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT):
        _signal.signal(sig, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def execvpe(argv, env):
    """os.execvpe without its lazy ``import warnings`` (slow in a fresh child)."""
    name = argv[0]
    if "/" in name:
        os.execve(name, argv, env)
    first_error = None
    for directory in env.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(":"):
        try:
            os.execve(os.path.join(directory or ".", name), argv, env)
        except (FileNotFoundError, NotADirectoryError) as e:
            last_error = e
        except OSError as e:
            last_error = e
            first_error = first_error or e
    raise first_error or last_error


def child_main(req, fds, errw):
    """Runs in the forked child; never returns."""
    stage = "setup"
    try:
        stdin, stdout, stderr, chan = fds
        _signal.set_wakeup_fd(-1)
        prctl(PR_SET_DUMPABLE, 1)
        os.setsid()
        if req.get("netfd") is not None:
            stage = "network"
            setns(req["netfd"], CLONE_NEWNET)
        stage = "chdir"
        enter_box_root(req["cwd"])
        stage = "limits"
        set_rlimits(req["rlimits"])
        stage = "drop privileges"
        drop_privileges(req)
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        reset_signals()
        stage = "stdio"
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, target)
        mark_all_cloexec()
        send(_socket.socket(fileno=chan), {"op": "hello"})
        stage = "exec"
        execvpe(req["argv"], req["env"])
    except BaseException as e:   # noqa: BLE001 - reported to the grader, then exit
        try:
            os.write(errw, marshal.dumps(StageError(stage, e).as_dict(), 4))
        finally:
            os._exit(127)


# ------------------------------------------------------------------ init --

class Program:
    """A spawned program init is the parent of: its id, channel and marker."""

    def __init__(self, nspid, chan, marker):
        self.nspid = nspid
        self.chan = chan
        self.marker = marker


class Init:
    """pid 1 of the box: serves requests on the control socket."""

    def __init__(self, ctrl, cfg):
        self.ctrl = ctrl
        self.cfg = cfg
        self.programs = {}          # nspid -> Program, until reaped
        self.nets = {}              # id -> fd of a test's network namespace
        self.next_net = 1
        self.base_net = None        # fd of the box's own network namespace
        self.exposed = []           # (path, writable) of every expose, in order
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)

    # -- set-up
    def setup(self):
        prctl(PR_SET_PDEATHSIG, _signal.SIGKILL)
        prctl(PR_SET_DUMPABLE, 0)
        _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
        _signal.signal(_signal.SIGCHLD, lambda *_: None)
        _signal.set_wakeup_fd(self.wake_w)
        proc = build_root(self.cfg)
        loopback_up()
        own_tcp_hash()
        self.base_net = os.open(PROC + "/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        return {"proc": proc}

    # -- reaping
    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False            # no child left at all
            if pid == 0:
                return True
            prog = self.programs.pop(pid, None)
            if prog is not None:
                try:
                    send(prog.chan, {"op": "exit", "status": status})
                except OSError:
                    pass
                prog.chan.close()

    def wait_for_sigchld(self, timeout):
        select.select([self.wake_r], [], [], timeout)
        try:
            os.read(self.wake_r, 4096)
        except BlockingIOError:
            pass

    def kill_until(self, victims):
        """SIGKILL ``victims()`` and reap, until it returns nothing or time is up."""
        end = time.monotonic() + KILL_GRACE
        while True:
            pids = victims()
            if not pids:
                # A victim that is already a zombie is not listed: reap it now, since
                # its SIGCHLD wake-up may have been consumed by our own waiting.
                self.reap()
                return True
            for pid in pids:
                try:
                    os.kill(pid, _signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.reap()
            left = end - time.monotonic()
            if left <= 0:
                return False
            self.wait_for_sigchld(min(left, 0.01))

    def everyone(self):
        """[-1] (kill(-1): everyone but init) while init has children."""
        return [-1] if self.reap() else []

    def tree_of(self, prog):
        """Live processes descending from ``prog`` or carrying its marker."""
        parents, marked = {}, set()
        needle = b"SOCKET_GRADER_RUN=" + prog.marker.encode()
        for name in os.listdir(PROC):
            if not name.isdigit():
                continue
            try:
                with open("%s/%s/stat" % (PROC, name), "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                if fields[0] == b"Z":
                    continue
                parents[int(name)] = int(fields[1])
                with open("%s/%s/environ" % (PROC, name), "rb") as f:
                    if needle in f.read().split(b"\0"):
                        marked.add(int(name))
            except (OSError, IndexError, ValueError):
                continue
        found = set(marked)
        if prog.nspid in parents:
            found.add(prog.nspid)
        grew = True
        while grew:
            grew = False
            for pid, ppid in parents.items():
                if ppid in found and pid not in found:
                    found.add(pid)
                    grew = True
        return sorted(found)

    # -- requests
    def do_spawn(self, req, fds):
        if len(fds) != 4:
            raise OSError(22, "spawn needs 4 fds")
        req["netfd"] = self.net_fd(req)
        errr, errw = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(errr)
            child_main(req, fds, errw)
        os.close(errw)
        chunks = []
        while True:
            chunk = os.read(errr, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(errr)
        chan = _socket.socket(fileno=fds[3])
        for fd in fds[:3]:
            os.close(fd)
        if chunks:
            chan.close()
            failure = marshal.loads(b"".join(chunks))
            failure["ok"] = False
            return failure, []
        self.programs[pid] = Program(pid, chan, req["marker"])
        return {"ok": True, "nspid": pid}, []

    def net_fd(self, req):
        net = req.get("net")
        if net is None:
            return None
        if net not in self.nets:
            raise OSError(22, "no network %r in this box" % (net,))
        return self.nets[net]

    def fresh_tmp(self):
        """Empty tmpfs mounts on /tmp and /dev/shm for the next spawns (the old ones
        go when their last user does: the programs of the last test are dead)."""
        set_attr_at(NEW, 0, MOUNT_ATTR_RDONLY, recursive=False)
        try:
            umount2(NEW + "/tmp", MNT_DETACH)
            tmpfs(NEW + "/tmp", "1777", self.cfg["tmp_size"])
            # Work dirs under the host's /tmp are bound inside the box's /tmp: again.
            for path, writable in self.exposed:
                if path == "/tmp" or path.startswith("/tmp/"):
                    bind_dir(path, writable)
        finally:
            set_attr_at(NEW, MOUNT_ATTR_RDONLY, recursive=False)
        set_attr_at(NEW + "/dev", 0, MOUNT_ATTR_RDONLY, recursive=False)
        try:
            umount2(NEW + "/dev/shm", MNT_DETACH)
            tmpfs(NEW + "/dev/shm", "1777", self.cfg["shm_size"])
        finally:
            set_attr_at(NEW + "/dev", MOUNT_ATTR_RDONLY, recursive=False)

    def do_net_open(self, req, fds):
        self.fresh_tmp()
        unshare(CLONE_NEWNET)
        try:
            loopback_up()
            fd = os.open(PROC + "/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            setns(self.base_net, CLONE_NEWNET)
        net, self.next_net = self.next_net, self.next_net + 1
        self.nets[net] = fd
        return {"ok": True, "net": net}, []

    def do_net_close(self, req, fds):
        fd = self.nets.pop(req["net"], None)
        if fd is not None:
            os.close(fd)
        return {"ok": True}, []

    def do_socket(self, req, fds):
        netfd = self.net_fd(req)
        if netfd is None:
            sock = _socket.socket(req["family"], req["type"], req.get("proto", 0))
            return {"ok": True}, [sock.detach()]
        setns(netfd, CLONE_NEWNET)
        try:
            sock = _socket.socket(req["family"], req["type"], req.get("proto", 0))
        finally:
            setns(self.base_net, CLONE_NEWNET)
        return {"ok": True}, [sock.detach()]

    def do_expose(self, req, fds):
        expose(req["path"], req["writable"])
        self.exposed.append((req["path"], req["writable"]))
        return {"ok": True}, []

    def do_kill(self, req, fds):
        nspid = req["nspid"]
        prog = self.programs.get(nspid) or Program(nspid, None, req["marker"])
        others = [p for p in self.programs if p != nspid]
        if others:
            done = self.kill_until(lambda: self.tree_of(prog))
        else:
            done = self.kill_until(self.everyone)
        return {"ok": True, "clean": done, "box_wide": not others}, []

    def do_shutdown(self, req, fds):
        done = self.kill_until(self.everyone)
        return {"ok": True, "clean": done, "stop": True}, []

    def handle(self, req, fds):
        handler = {"spawn": self.do_spawn, "socket": self.do_socket, "expose": self.do_expose,
                   "net_open": self.do_net_open, "net_close": self.do_net_close,
                   "kill": self.do_kill, "shutdown": self.do_shutdown}.get(req.get("op"))
        if handler is None:
            return {"ok": False, "stage": "request", "errno": 22,
                    "strerror": "unknown request %r" % req.get("op"), "filename": None}, []
        try:
            return handler(req, fds)
        except Exception as e:   # noqa: BLE001 - a failed request, not a dead box
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
            reply = StageError(req.get("op"), e).as_dict()
            reply["ok"] = False
            return reply, []

    def serve(self):
        while True:
            ready, _, _ = select.select([self.ctrl, self.wake_r], [], [])
            if self.wake_r in ready:
                self.wait_for_sigchld(0)
                self.reap()
            if self.ctrl not in ready:
                continue
            req, fds, _ = recv(self.ctrl)
            if req is None:                       # the grader went away
                self.kill_until(self.everyone)
                return
            reply, out_fds = self.handle(req, fds)
            send(self.ctrl, reply, out_fds)
            for fd in out_fds:
                os.close(fd)
            if reply.get("stop"):
                return


# ----------------------------------------------------------------- outer --

def enter_namespaces(cfg):
    """unshare(2) into the box's namespaces (and user namespace, for userns)."""
    if not cfg["userns"]:
        unshare(BOX_NAMESPACES)
        return
    if cfg["drop_to"] is not None:          # root forcing the userns tier
        uid = cfg["drop_to"]
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        prctl(PR_SET_DUMPABLE, 1)
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER | BOX_NAMESPACES)
    for name, text in (("setgroups", "deny"), ("uid_map", "0 %d 1" % uid),
                       ("gid_map", "0 %d 1" % gid)):
        with open("/proc/self/" + name, "w") as f:
            f.write(text)


def init_main(ctrl, cfg):
    init = Init(ctrl, cfg)
    try:
        info = init.setup()
    except BaseException as e:   # noqa: BLE001 - reported, then exit
        reply = StageError("box setup", e).as_dict()
        reply["op"] = "error"
        send(ctrl, reply)
        return 1
    info["op"] = "ready"
    send(ctrl, info)
    init.serve()
    return 0


def main(argv):
    ctrl = _socket.socket(fileno=int(argv[1]))
    os.set_inheritable(ctrl.fileno(), False)
    cfg, _, _ = recv(ctrl)
    if cfg is None:
        return 1
    try:
        enter_namespaces(cfg)
    except OSError as e:
        reply = StageError("unshare", e).as_dict()
        reply["op"] = "error"
        send(ctrl, reply)
        return 1
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = init_main(ctrl, cfg)
        finally:
            os._exit(code)
    ctrl.close()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) & 0xFF


if __name__ == "__main__":
    sys.exit(main(sys.argv))
