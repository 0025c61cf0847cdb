"""The ``grader`` command: a table of subcommands, each in its own module.

Every error the user can cause (a bad spec, a wrong path, a bad option) is a
:class:`~grader.errors.GraderError`: it is printed as one line naming the file
and the problem, and the exit status is 2.  Exit statuses are constants here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass

from .. import __version__
from ..errors import GraderError

EXIT_OK = 0           # full marks / all good
EXIT_NOT_FULL = 1     # graded, but not full marks (or validate < 100%)
EXIT_USAGE = 2        # bad input: spec, path or option
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Command:
    module: str
    summary: str


COMMANDS = {
    "check": Command("check", "grade one submission, with full feedback"),
    "batch": Command("batch", "grade every submission folder under a directory"),
    "merge": Command("merge", "join the output folders of sharded batch runs into one gradebook"),
    "report": Command("report", "write the class report (one HTML page) from batch results"),
    "validate": Command("validate", "run a spec against the reference implementation (must be 100%)"),
    "doctor": Command("doctor", "say which sandbox tier this machine gives, and why"),
    "schema": Command("schema", "print the JSON Schema of the spec format"),
    "new": Command("new", "scaffold a spec, a reference stub and a sample for a new assignment"),
    "gradescope": Command("gradescope", "build the Gradescope autograder zip for a spec"),
    "init-ci": Command("init_ci", "write a GitHub Actions workflow that grades an assignment repo"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:     # one line, exit 2, no usage dump
        raise GraderError(f"{self.prog}: {message} (see {self.prog} --help)")


def top_help() -> str:
    lines = ["usage: grader COMMAND [options]   (grader COMMAND --help for its options)", "",
             "Grade TCP/UDP socket programs over real sockets.", "", "commands:"]
    lines += [f"  {name:<10} {cmd.summary}" for name, cmd in COMMANDS.items()]
    lines += ["", "  -V, --version  print the version",
              "", "SPEC is a spec file, or the bare name of a shipped spec (grader check tcp-echo DIR):"]
    try:
        from ..resources import shipped_specs
        lines.append("  " + ", ".join(sorted(shipped_specs())))
    except Exception:       # the help must never fail
        pass
    return "\n".join(lines)


def command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of one command; only that command's module is imported."""
    cmd = COMMANDS[name]
    parser = _Parser(prog=f"grader {name}", description=cmd.summary)
    mod = importlib.import_module(f".{cmd.module}", __name__)
    mod.add_arguments(parser)
    parser.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] in ("-h", "--help", "help"):
            print(top_help())
            return EXIT_OK if argv else EXIT_USAGE
        if argv[0] in ("-V", "--version"):
            print(f"socket-grader {__version__}")
            return EXIT_OK
        if argv[0] not in COMMANDS:
            raise GraderError(f"unknown command {argv[0]!r} (commands: {', '.join(COMMANDS)})")
        args = command_parser(argv[0]).parse_args(argv[1:])
        return args._run(args)
    except GraderError as e:
        print(f"grader: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
