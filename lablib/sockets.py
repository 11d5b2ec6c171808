"""Listening TCP sockets on this machine, read from ``/proc/net/tcp`` and ``tcp6`` (Linux).

Which address each listener is bound to, and which process holds it: to name the
program that took a port a service wanted, and for the test that nothing we start
listens beyond loopback. Elsewhere (no /proc) the lists are empty.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_LISTEN = "0A"


@dataclass(frozen=True)
class Listener:
    address: str  # as bound: 127.0.0.1, ::1, 0.0.0.0, ::, ::ffff:127.0.0.1
    port: int
    pid: int | None  # None when the process cannot be seen (another user's, or gone)
    program: str  # its command name ("java", "python3"), "" when unknown

    @property
    def loopback(self) -> bool:
        ip = ipaddress.ip_address(self.address)
        mapped = getattr(ip, "ipv4_mapped", None)  # Java binds 127.0.0.1 as ::ffff:127.0.0.1
        return (mapped or ip).is_loopback

    def describe(self) -> str:
        who = f"{self.program or 'a process'} (pid {self.pid})" if self.pid else "another program"
        return f"{who} on {self.address}:{self.port}"


def _address(hex_ip: str) -> str:
    # the kernel prints each 32-bit word of the address in host byte order
    raw = b"".join(struct.pack("=I", int(hex_ip[i:i + 8], 16)) for i in range(0, len(hex_ip), 8))
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _sockets() -> list[tuple[str, int, int]]:
    """(address, port, inode) of every listening TCP socket."""
    found = []
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN:
                hex_ip, hex_port = fields[1].split(":")
                found.append((_address(hex_ip), int(hex_port, 16), int(fields[9])))
    return found


def _owners(inodes: set[int]) -> dict[int, int]:
    """inode -> PID of a process holding that socket (only the processes we may look into)."""
    owners: dict[int, int] = {}
    for proc in _PROC.glob("[0-9]*"):
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = fd.readlink().name
                    if target.startswith("socket:["):
                        inode = int(target[8:-1])
                        if inode in inodes:
                            owners.setdefault(inode, int(proc.name))
    return owners


def _program(pid: int) -> str:
    try:
        return (_PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""


def listeners(port: int | None = None) -> list[Listener]:
    """Every listening TCP socket (or those on ``port``), with the process that holds it."""
    found = [s for s in _sockets() if port is None or s[1] == port]
    owners = _owners({inode for _, _, inode in found}) if found else {}
    return [Listener(address, p, owners.get(inode), _program(owners[inode]) if inode in owners else "")
            for address, p, inode in found]


def holder(port: int) -> str:
    """Who listens on ``port``, for a message: "java (pid 4242) on 0.0.0.0:9092", or "another program"."""
    held = listeners(port)
    return held[0].describe() if held else "another program"
