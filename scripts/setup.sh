#!/usr/bin/env bash
# Set up everything socket-grader needs on a fresh Linux machine, idempotently:
# a C compiler and make (to build students' C code), then a virtual environment
# in .venv with socket-grader and its test dependencies installed from this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=0
apt_update_once() {
    if [ "$apt_updated" = 0 ]; then
        apt-get update -qq
        apt_updated=1
    fi
}

need=()
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v make >/dev/null 2>&1 || need+=(make)
if ((${#need[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ${need[*]}" >&2
        apt_update_once
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "setup: please install ${need[*]} (a C compiler and make are needed to build students' C code)" >&2
        exit 1
    fi
fi

# Headless Chromium lets the test suite check the class report in a real browser
# (the test is skipped, with that reason, where it cannot be installed).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium (for the class report's browser test)" >&2
    (apt_update_once && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "setup: chromium could not be installed; its test will be skipped" >&2
fi

# The toolchains of the languages the shipped specs accept besides C and Python
# (C++, Java, Go, Rust), from Debian's packages. The box sees only /usr, /bin,
# /lib* and /etc, so a compiler installed under a home folder (rustup) is not
# used there: the system one is checked for by its path. Rust builds with
# rustc alone, std only, offline. `grader doctor` lists what was found.
langs=()
[ -x /usr/bin/g++ ] || langs+=(g++)
[ -x /usr/bin/javac ] || langs+=(default-jdk-headless)
[ -x /usr/bin/go ] || langs+=(golang-go)
[ -x /usr/bin/rustc ] || langs+=(rustc)
if ((${#langs[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ${langs[*]} (C++, Java, Go and Rust submissions)" >&2
        (apt_update_once && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${langs[@]}" >/dev/null) \
            || echo "setup: ${langs[*]} could not be installed: submissions in those languages will not build" >&2
    else
        echo "setup: ${langs[*]} not installed: C++, Java, Go or Rust submissions will not build (run as root to install)" >&2
    fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
