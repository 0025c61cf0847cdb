"""Step kinds for the textbook socket labs (HTTP server, web proxy, UDP pinger, SMTP client).

Each lab's module keeps its steps together: the step's name, its JSON Schema
and its runner, in one ``STEPS`` table (name -> (schema, runner)).  The core
registers them with two small calls, so nothing here is imported until a spec
or a step asks for it:

* :func:`step_schemas` for :mod:`grader.spec_schema` (the spec format),
* :func:`step_runners` for :data:`grader.steps.ACTIONS` (what a step does),
* :data:`SERVER_ONLY` / :data:`CLIENT_ONLY` for the role checks of :mod:`grader.spec`.

The lab modules import the core lazily (see :mod:`grader.protocols.common`), so
the spec loader can read their schemas without importing the step machinery.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

MODULES = ("http", "origin", "smtp", "pinger")

# Steps that only make sense in one role (checked when a spec is loaded).
SERVER_ONLY = {"origin", "origin_serve", "origin_close"}
CLIENT_ONLY = {"smtp_session", "ping_server"}


def _steps() -> dict[str, tuple[dict[str, Any], Callable]]:
    table: dict[str, tuple[dict[str, Any], Callable]] = {}
    for name in MODULES:
        table.update(importlib.import_module(f"{__name__}.{name}").STEPS)
    return table


def step_schemas() -> dict[str, dict[str, Any]]:
    return {name: schema for name, (schema, _) in _steps().items()}


def step_runners() -> dict[str, Callable]:
    return {name: run for name, (_, run) in _steps().items()}
