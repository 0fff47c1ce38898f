"""Command-line parsing shared by every `wavecoder` command: options and overrides in any order.

argparse cannot mix a `key=value ...` positional list with options: once it has matched the
positional (even to nothing) a later `budget=50` is "unrecognized", and an option taking several
values (`-i A B`) swallows a following `budget=50`. So overrides are taken out of argv before
argparse sees it: a token is an override when it looks like `dotted.key=value` and is not the
value of an option that takes one (`-o out=x` stays a value). Names in `keep` (a stage's named
inputs, `-i dedup=DIR`) are never overrides. Not here: what an override means (`wavecoder.config`).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Collection, Sequence

OVERRIDE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*=")


def _single_value_options(parser: argparse.ArgumentParser) -> set[str]:
    """Option strings whose next token is always their value (nargs unset or 1)."""
    out: set[str] = set()
    for action in parser._actions:
        if action.option_strings and action.nargs in (None, 1):
            out.update(action.option_strings)
    return out


def split_overrides(
    parser: argparse.ArgumentParser, argv: Sequence[str], *, keep: Collection[str] = ()
) -> tuple[list[str], list[str]]:
    """(argv without the overrides, the overrides in their order) wherever they stand."""
    takes_value = _single_value_options(parser)
    rest: list[str] = []
    overrides: list[str] = []
    expect_value = False
    after_dashdash = False
    for token in argv:
        if after_dashdash or expect_value:
            rest.append(token)
            expect_value = False
            continue
        if token == "--":
            after_dashdash = True
            rest.append(token)
        elif token in takes_value:
            rest.append(token)
            expect_value = True
        elif OVERRIDE.match(token) and token.split("=", 1)[0] not in keep:
            overrides.append(token)
        else:
            rest.append(token)
    return rest, overrides


def parse_with_overrides(
    parser: argparse.ArgumentParser,
    argv: Sequence[str],
    *,
    prefix: Sequence[str] = (),
    keep: Collection[str] = (),
) -> argparse.Namespace:
    """Parse `prefix + argv` with `key=value` overrides taken from anywhere in argv.

    `prefix` selects the subcommand of `parser` whose options argv holds; names in `keep` are
    never overrides."""
    target = _subparser(parser, prefix[0]) if prefix else parser
    rest, overrides = split_overrides(target, argv, keep=keep)
    args = parser.parse_args([*prefix, *rest])
    if overrides and not hasattr(args, "overrides"):
        parser.error(f"unrecognized arguments: {' '.join(overrides)}")
    if hasattr(args, "overrides"):
        args.overrides = [*overrides, *args.overrides]
    return args


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            return action.choices[name]  # type: ignore[no-any-return]
    return parser


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (`-n 0` or `-n -1` is a usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
