"""grader doctor: which sandbox tier this machine gives, why, and what would change it.

It opens (and closes) a real box of each namespaced tier rather than guessing
from settings, then explains a failure from the settings that usually cause
it.  Exit status 0 when a sandboxed tier is available, 1 when programs would
run unsandboxed (so a CI job can insist on a sandbox).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable

from ..cgroups import probe as probe_cgroups
from ..errors import GraderError
from ..sandbox import (APPARMOR_SYSCTL, DEFAULT_PATH, MAX_USERNS_SYSCTL, READONLY_DIRS, TIER_UNSANDBOXED,
                       USERNS_CLONE_SYSCTL, TierInfo, detect_tier, open_box)
from . import EXIT_NOT_FULL, EXIT_OK


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None        # None: informational
    detail: str


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the findings as JSON")


def _try(option: str) -> Check:
    start = time.perf_counter()
    try:
        box = open_box(option)
    except GraderError as e:
        return Check(f"tier {option}", False, e.message)
    box.close()
    ms = (time.perf_counter() - start) * 1000
    return Check(f"tier {option}", True, f"a box opened and closed in {ms:.0f} ms")


def _sysctl(path: str, name: str, good: Callable[[str], bool], wants: str) -> Check:
    """A setting that can stop user namespaces; informational when the kernel lacks it."""
    try:
        with open(path) as f:
            value = f.read().strip()
    except OSError:
        return Check(name, None, "not present on this kernel")
    ok = good(value)
    return Check(name, ok, f"= {value}" + ("" if ok else f" (user namespaces need {wants})"))


def _platform_note() -> Check | None:
    release = platform.release().lower()
    if sys.platform == "darwin":
        return Check("platform", False, "macOS has no Linux namespaces: tier 'none' only")
    if sys.platform.startswith("win"):
        return Check("platform", False, "Windows: run the grader in WSL 2 or a Linux container")
    if "microsoft" in release:
        wsl = "WSL 2" if "wsl2" in release or "microsoft-standard" in release else "WSL 1"
        return Check("platform", None, f"{wsl}: " + ("a real Linux kernel, the checks below tell"
                                                     if wsl == "WSL 2" else "no namespaces: tier 'none' only"))
    return None


def checks() -> list[Check]:
    found = [c for c in [_platform_note()] if c]
    if not sys.platform.startswith("linux"):
        return found
    found.append(Check("user", None, f"uid {os.geteuid()}" + (" (root)" if os.geteuid() == 0 else "")))
    if os.geteuid() == 0:
        found.append(_try("root"))
        cg = probe_cgroups()
        found.append(Check("cgroups", cg.available, cg.reason))
    found.append(_try("userns"))
    found.append(_sysctl(APPARMOR_SYSCTL, "kernel.apparmor_restrict_unprivileged_userns",
                         lambda v: v == "0", "0"))
    found.append(_sysctl(USERNS_CLONE_SYSCTL, "kernel.unprivileged_userns_clone",
                         lambda v: v == "1", "1"))
    found.append(_sysctl(MAX_USERNS_SYSCTL, "user.max_user_namespaces",
                         lambda v: v != "0", "a value above 0"))
    return found


# language -> (compiler or interpreter, its version command, the Debian package).
# javac without its JVM's performance file: else it leaves /tmp/hsperfdata_USER behind.
TOOLCHAINS = (
    ("C", "cc", ["cc", "--version"], "gcc"),
    ("C++", "g++", ["g++", "--version"], "g++"),
    ("Java", "javac", ["javac", "-J-XX:-UsePerfData", "-version"], "default-jdk-headless"),
    ("Go", "go", ["go", "version"], "golang-go"),
    ("Rust", "rustc", ["rustc", "--version"], "rustc"),
    ("Python", "python3", ["python3", "--version"], "python3"),
    ("make", "make", ["make", "--version"], "make"),
)


def _version(argv: list[str], path: str) -> str:
    try:
        done = subprocess.run([path, *argv[1:]], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"does not run: {e}"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else f"exit status {done.returncode}"


def toolchains() -> list[Check]:
    """The compilers and interpreters the shipped specs' languages use, as the box finds them
    (on its PATH, in the system folders it shows); ``ok`` False when missing."""
    found = []
    for lang, cmd, version, package in TOOLCHAINS:
        path = shutil.which(cmd, path=DEFAULT_PATH)
        if path is None:
            elsewhere = shutil.which(cmd)
            where = f" (found at {elsewhere}, which the box does not show)" if elsewhere else ""
            found.append(Check(f"{lang} ({cmd})", False,
                               f"not installed{where}: apt-get install {package} (scripts/setup.sh does)"))
            continue
        shown = any(path.startswith(d + "/") for d in READONLY_DIRS)
        found.append(Check(f"{lang} ({cmd})", True, f"{_version(version, path)}  [{path}]"
                           + ("" if shown else "  (outside the folders the box shows)")))
    return found


def _mark(ok: bool | None) -> str:
    return {True: "ok", False: "no", None: "--"}[ok]


def report(info: TierInfo, found: list[Check], tools: list[Check] = ()) -> str:
    lines = [f"socket-grader doctor: {platform.system()} {platform.release()} {platform.machine()}, "
             f"Python {platform.python_version()}", "",
             f"tier:    {info.tier}   (--tier {info.option}; what --tier auto picks)",
             f"why:     {info.reason}"]
    if info.advice:
        lines.append(f"advice:  {info.advice}")
    lines += ["", "checks:"]
    lines += [f"  [{_mark(c.ok)}] {c.name}: {c.detail}" for c in found]
    if tools:
        lines += ["", "toolchains (what submissions build and run with):"]
        lines += [f"  [{_mark(c.ok)}] {c.name}: {c.detail}" for c in tools]
    if info.notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in info.notes]
    if info.tier == TIER_UNSANDBOXED:
        lines += ["", "Unsandboxed: student programs run as plain processes of this user, can read "
                      "what it can read, and share its network. Grade untrusted code elsewhere."]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    info = detect_tier()
    found = checks()
    tools = toolchains()
    if args.json:
        print(json.dumps({"tier": asdict(info), "checks": [asdict(c) for c in found],
                          "toolchains": [asdict(c) for c in tools]}, indent=2))
    else:
        print(report(info, found, tools))
    return EXIT_NOT_FULL if info.tier == TIER_UNSANDBOXED else EXIT_OK
