"""Which inet sockets a process holds, read in *its* network namespace.

Theory of operation
-------------------
``psutil.Process(pid).net_connections()`` matches the process's socket inodes
against ``/proc/net/tcp`` etc. of the *caller's* network namespace (psutil
7.x, ``_pslinux.NetConnections.retrieve``), so for a program in a box it finds
nothing.  ``/proc/<pid>/net/tcp`` is the table of the namespace of ``<pid>``:
reading that one works in every tier.  It also has what psutil drops: the
queues.  For a LISTEN socket ``rx_queue`` is the number of connections waiting
to be accepted (the listen() backlog itself is not in this table; ``ss -ltn``
shows it, through netlink, run inside the namespace); for a connected socket
they are the bytes not yet read / not yet acknowledged.

Processes of one box share one network namespace: each table is read once per
namespace per call.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Iterable

TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
    "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
    "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}
TABLES = (("tcp", socket.AF_INET, socket.SOCK_STREAM), ("tcp6", socket.AF_INET6, socket.SOCK_STREAM),
          ("udp", socket.AF_INET, socket.SOCK_DGRAM), ("udp6", socket.AF_INET6, socket.SOCK_DGRAM))


@dataclass(frozen=True)
class InetSocket:
    """One row of /proc/<pid>/net/{tcp,tcp6,udp,udp6} that a process holds."""

    pid: int
    fd: int
    family: int
    type: int
    laddr: tuple[str, int]
    raddr: tuple[str, int]
    status: str            # TCP state name; "NONE" for UDP ("CLOSE" means unconnected)
    tx_queue: int
    rx_queue: int
    inode: int


def _address(text: str, family: int) -> tuple[str, int]:
    host, port = text.split(":")
    raw = bytes.fromhex(host)
    # The kernel prints each 32-bit word in host (little-endian) order.
    packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, packed), int(port, 16)


def socket_inodes(pid: int) -> dict[int, int]:
    """inode -> fd for every socket ``pid`` holds (empty if it is gone)."""
    found: dict[int, int] = {}
    base = f"/proc/{pid}/fd"
    try:
        names = os.listdir(base)
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink(f"{base}/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found[int(target[8:-1])] = int(name)
    return found


def _rows(pid: int, table: str) -> list[list[str]]:
    try:
        with open(f"/proc/{pid}/net/{table}") as f:
            return [line.split() for line in f.readlines()[1:]]
    except OSError:
        return []


def _netns(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def inet_sockets(pids: Iterable[int]) -> list[InetSocket]:
    """Every TCP/UDP socket (v4 and v6) held by any of ``pids``."""
    owners: dict[int, tuple[int, int]] = {}        # inode -> (pid, fd)
    namespaces: dict[int, int] = {}                # netns inode -> a pid inside it
    for pid in pids:
        for inode, fd in socket_inodes(pid).items():
            owners.setdefault(inode, (pid, fd))
        ns = _netns(pid)
        if ns is not None:
            namespaces.setdefault(ns, pid)
    found = []
    for reader in namespaces.values():
        for table, family, kind in TABLES:
            for row in _rows(reader, table):
                entry = _entry(row, family, kind, owners)
                if entry is not None:
                    found.append(entry)
    return found


def _entry(row: list[str], family: int, kind: int,
           owners: dict[int, tuple[int, int]]) -> InetSocket | None:
    if len(row) < 10 or not row[9].isdigit() or int(row[9]) not in owners:
        return None
    pid, fd = owners[int(row[9])]
    tx, rx = row[4].split(":")
    status = TCP_STATES.get(row[3], row[3]) if kind == socket.SOCK_STREAM else "NONE"
    return InetSocket(pid, fd, family, kind, _address(row[1], family), _address(row[2], family),
                      status, int(tx, 16), int(rx, 16), int(row[9]))


def listening_ports(pids: Iterable[int]) -> set[int]:
    """Ports with a TCP LISTEN socket or a bound UDP socket held by ``pids``."""
    return {s.laddr[1] for s in inet_sockets(pids)
            if s.status == "LISTEN" or (s.type == socket.SOCK_DGRAM and s.laddr[1])}
