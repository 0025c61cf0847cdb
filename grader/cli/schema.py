"""grader schema: print the spec format's JSON Schema (for editors)."""

from __future__ import annotations

import argparse
import json

from ..spec_schema import SCHEMA


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print(json.dumps(SCHEMA, indent=2))
    return 0
