"""The `mssante-conformance` command.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``; it sets ``func`` on its parser, a callable taking the parsed
namespace and returning the exit code. A user mistake raises :class:`UsageError`, which
is printed as one line (never a traceback) with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mssante_conformance import __version__
from mssante_conformance.exits import EXIT_USAGE

# Sub-command modules, in the order `--help` lists them.
SUBCOMMAND_MODULES = (
    "run_cmd",
    "bouchon_cmd",
    "token_cmd",
    "reference_cmd",
    "pki_cmd",
    "report_cmd",
    "console_cmd",
    "monitor_cmd",
)


class UsageError(Exception):
    """A mistake of the user (bad flag, missing file): reported in one line, exit 2."""


class CommandFailed(Exception):
    """The command could not do its job for a reason outside the user's input."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage and exits 2: keep that, in one place
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: erreur: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mssante-conformance",
        description="Harnais de conformité MSSanté (Ref#1 v1.5): bouchon Pro Santé Connect, "
        "suites API LPS et interface opérateurs, rapport de conformité.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMANDE", parser_class=_Parser)
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # sub-command not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"mssante-conformance: erreur: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandFailed as exc:
        print(f"mssante-conformance: échec: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mssante-conformance: interrompu", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
