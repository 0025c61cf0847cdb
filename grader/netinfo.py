"""Which sockets a program's processes hold, seen from outside.

The grader never trusts "something answers on the port": it looks at the
sockets the student's own processes hold.  For each socket fd of each process
in the tree it takes a duplicate with ``pidfd_getfd(2)`` (Linux 5.6+, allowed to
the parent/root) and asks the socket itself: family, type, the address it is
bound to, and whether it is listening (``SO_ACCEPTCONN``).  This tells apart the
classic bind bugs exactly: a byte-swapped port, a fixed port, an address other
than the one asked for, and a TCP socket bound but never listening, which the
kernel's /proc/net/tcp table does not even show.

Where pidfd_getfd is not allowed, the /proc/PID/net tables (which are those of
the process's own network namespace) are read instead, matched to the
process's fds by inode; that fallback cannot see bound-but-not-listening TCP
sockets.
"""

from __future__ import annotations

import ctypes
import os
import socket
from dataclasses import dataclass
from typing import Iterable

_SYS_PIDFD_GETFD = 438   # same number on every architecture (unified syscall table)
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class SockInfo:
    pid: int
    fd: int
    family: int          # socket.AF_INET / AF_INET6 / AF_UNIX
    kind: int            # socket.SOCK_STREAM / SOCK_DGRAM
    address: str         # bound address, "0.0.0.0" / "::" for all
    port: int            # bound port, 0 when unbound
    listening: bool      # TCP: listen() was called
    connected: bool      # has a peer (accepted / connected socket)

    @property
    def proto(self) -> str:
        return "tcp" if self.kind == socket.SOCK_STREAM else "udp"

    @property
    def all_addresses(self) -> bool:
        return self.address in ("0.0.0.0", "::")


def _socket_fds(pid: int) -> list[tuple[int, int]]:
    """(fd, inode) for every socket fd of ``pid``."""
    found = []
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for name in names:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if link.startswith("socket:["):
            found.append((int(name), int(link[8:-1])))
    return found


def _inspect_dup(pid: int, fd: int, dup: int) -> SockInfo | None:
    try:
        s = socket.socket(fileno=dup)
    except OSError:
        os.close(dup)
        return None
    try:
        if s.family not in (socket.AF_INET, socket.AF_INET6):
            return None
        name = s.getsockname()
        listening = bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
        try:
            s.getpeername()
            connected = True
        except OSError:
            connected = False
        return SockInfo(pid, fd, s.family, s.type, name[0], name[1], listening, connected)
    finally:
        s.close()


def _via_pidfd(pid: int) -> list[SockInfo] | None:
    try:
        pidfd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None
    try:
        infos = []
        for fd, _inode in _socket_fds(pid):
            dup = _libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
            if dup < 0:
                if ctypes.get_errno() in (1, 38):    # EPERM, ENOSYS: not allowed here
                    return None
                continue                              # fd closed meanwhile
            info = _inspect_dup(pid, fd, dup)
            if info:
                infos.append(info)
        return infos
    finally:
        os.close(pidfd)


_TCP_LISTEN = "0A"
_TCP_ESTABLISHED = "01"


def _parse_addr(hexaddr: str) -> tuple[str, int]:
    host, port = hexaddr.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        addr = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:
        words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
        addr = socket.inet_ntop(socket.AF_INET6, words)
    return addr, int(port, 16)


def _via_tables(pid: int) -> list[SockInfo]:
    fds = {inode: fd for fd, inode in _socket_fds(pid)}
    infos = []
    for table, family, kind in (("tcp", socket.AF_INET, socket.SOCK_STREAM),
                                ("tcp6", socket.AF_INET6, socket.SOCK_STREAM),
                                ("udp", socket.AF_INET, socket.SOCK_DGRAM),
                                ("udp6", socket.AF_INET6, socket.SOCK_DGRAM)):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            inode = int(cols[9])
            if inode not in fds:
                continue
            addr, port = _parse_addr(cols[1])
            state = cols[3]
            listening = kind == socket.SOCK_STREAM and state == _TCP_LISTEN
            connected = kind == socket.SOCK_STREAM and state == _TCP_ESTABLISHED
            infos.append(SockInfo(pid, fds[inode], family, kind, addr, port, listening, connected))
    return infos


def sockets_of(pids: Iterable[int]) -> list[SockInfo]:
    """Every IPv4/IPv6 socket held by any of ``pids`` (duplicates by fd removed)."""
    out: list[SockInfo] = []
    for pid in pids:
        infos = _via_pidfd(pid)
        if infos is None:
            infos = _via_tables(pid)
        out.extend(infos)
    return out


def descendants(pid: int) -> list[int]:
    """``pid`` and every live descendant (empty if ``pid`` is gone)."""
    if not os.path.exists(f"/proc/{pid}"):
        return []
    found, todo = [pid], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{parent}/task/{tid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            for kid in kids:
                if kid not in found:
                    found.append(kid)
                    todo.append(kid)
    return found


def fd_count(pid: int) -> int | None:
    """How many sockets ``pid`` holds open: the descriptors a connection leak leaves.

    Only sockets count: runtimes keep descriptors of their own that come and go
    with load (Go's io.Copy keeps a pool of splice pipes until its next GC; the
    JVM opens jars as it loads classes), and none of them is a leak of the
    student's.
    """
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    count = 0
    for fd in fds:
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    return count


def task_state(pid: int, tid: int | None = None) -> str | None:
    """The state letter of thread ``tid`` of ``pid`` (its leader by default) in
    /proc/PID/task/TID/stat: "R", "S", "D", "T", "t", "Z"...; "X" when it is gone,
    None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/task/{pid if tid is None else tid}/stat") as f:
            stat = f.read()
    except FileNotFoundError:
        return "X"
    except OSError:
        return None
    return stat[stat.rfind(")") + 2]


def zombie_children(pid: int) -> list[int]:
    """Direct children of ``pid`` in state Z (exited, never waited for)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        return []
    return [child for child in children if task_state(child) == "Z"]
