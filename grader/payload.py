"""Bytes as a spec writes them, and bytes as a student should read them.

``make_payload`` turns a spec payload (text, hex, repeat, random) into bytes;
``show`` turns bytes back into a short, escaped, printable form for feedback.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

SHOW_LIMIT = 80


PAYLOAD_KEYS = ("text", "hex", "repeat", "random", "file", "framed", "parts")


def make_payload(spec: Any, rng: random.Random, files: dict[str, bytes] | None = None) -> bytes:
    """The bytes a spec payload stands for.

    ``files`` are the test's files (``file: NAME`` is their content); ``random``
    payloads draw from ``rng`` (seeded per test) unless they name their own seed.
    """
    if spec is None:
        return b""
    if isinstance(spec, str):
        return spec.encode("utf-8")
    if "file" in spec:
        if files is None or spec["file"] not in files:
            raise KeyError(f"no test file named {spec['file']!r}")
        return files[spec["file"]]
    if "framed" in spec:
        f = spec["framed"]
        inner = make_payload({k: v for k, v in f.items() if k != "prefix"}, rng, files)
        return len(inner).to_bytes(f.get("prefix", 8), "big") + inner
    if "parts" in spec:
        return b"".join(make_payload(p, rng, files) for p in spec["parts"])
    if "text" in spec:
        return spec["text"].encode("utf-8")
    if "hex" in spec:
        return bytes.fromhex("".join(spec["hex"].split()))
    if "repeat" in spec:
        r = spec["repeat"]
        unit = bytes.fromhex("".join(r["hex"].split())) if "hex" in r else r.get("text", "x").encode()
        return unit * r["count"]
    if "random" in spec:
        r = spec["random"]
        local = random.Random(r["seed"]) if "seed" in r else rng
        return local.randbytes(r["size"])
    raise ValueError(f"not a payload: {spec!r}")


def uses_randomness(spec: Any) -> bool:
    """Whether a payload draws from the test's seeded random stream."""
    if isinstance(spec, list):
        return any(uses_randomness(p) for p in spec)
    if not isinstance(spec, dict):
        return False
    if "random" in spec:
        return "seed" not in spec["random"]
    return uses_randomness(spec.get("parts")) or uses_randomness(spec.get("framed"))


def escape(data: bytes) -> str:
    out = []
    for b in data:
        c = chr(b)
        if c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def show(data: bytes, limit: int = SHOW_LIMIT) -> str:
    """``"hello\\n"`` for short data; head ... tail with the size and a hash for long."""
    if len(data) <= limit:
        return f'"{escape(data)}"'
    half = limit // 2
    digest = hashlib.sha256(data).hexdigest()[:10]
    return (f'"{escape(data[:half])}" ... "{escape(data[-half // 2:])}" '
            f"({len(data)} bytes, sha256 {digest})")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
