"""``pointdose protocols``: the built-in protocols and their parameters; check a TOML file."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="show one built-in's parameters")
    parser.add_argument("--check", metavar="FILE", help="validate a protocol file and describe it")


def run(args: argparse.Namespace) -> int:
    from pointdose.protocols import BUILTINS, builtin, load_protocol

    if args.check:
        proto = load_protocol(args.check)
        print(f"{args.check}: ok — {proto.title}, {proto.repetitions} cycle(s)")
        for i, ph in enumerate(proto.phases, 1):
            end = f"{ph.duration_s:g} s" if ph.end == "time" else f"{ph.end} (max {ph.max_s:g} s)"
            print(f"  {i}. {ph.name:<12} {ph.kind:<5} target {ph.target or '—'}  ends: {end}")
        return 0
    names = [args.name] if args.name else list(BUILTINS)
    for name in names:
        builtin(name)  # UserError for an unknown name
        b = BUILTINS[name]
        print(f"{b.name:<12} {b.title}: {b.summary}")
        if args.name:
            for p in b.params:
                rng = f" [{p.lo:g} … {p.hi:g}]" if p.lo is not None else ""
                print(f"    {p.key:<18} {str(p.default):<10}{rng}  {p.help}")
    if not args.name:
        print("\npointdose protocols NAME shows a protocol's parameters; change them with "
              "pointdose session --protocol NAME --set KEY=VALUE, or a .toml file (docs/protocols.md)")
    return 0
