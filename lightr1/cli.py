"""The `lightr1` command: a thin layer over the package's modules, one subcommand per step.
Modules are imported inside each command so that small jobs never pay for torch or TRL."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from lightr1.errors import Lightr1Error

_COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {}


def command(name: str):
    def register(function: Callable[[argparse.Namespace], None]):
        _COMMANDS[name] = function
        return function

    return register


@command("tiny-world")
def _tiny_world(args: argparse.Namespace) -> None:
    from lightr1.tiny.world import write_world

    write_world(args.out_dir, seed=args.seed, n_problems=args.n_problems)


@command("stage-source")
def _stage_source(args: argparse.Namespace) -> None:
    from lightr1 import sources
    from lightr1.ingest import Limits, stage_source
    from lightr1.io import write_table

    adapter = sources.get_adapter(args.adapter)
    limits = Limits(args.max_problem_chars, args.max_response_chars)
    write_table(stage_source(args.input, args.name, adapter, json.loads(args.options), limits), args.out)


@command("stage-benchmark")
def _stage_benchmark(args: argparse.Namespace) -> None:
    from lightr1 import benchmarks
    from lightr1.ingest import Limits, stage_benchmark
    from lightr1.io import write_table

    adapter = benchmarks.get_adapter(args.adapter)
    limits = Limits(args.max_problem_chars, args.max_response_chars)
    write_table(stage_benchmark(args.input, args.name, adapter, json.loads(args.options), limits), args.out)


@command("download")
def _download(args: argparse.Namespace) -> None:
    from lightr1.hub import download

    download(args.hub, args.out, config=args.hub_config, split=args.split, revision=args.revision)


@command("decontaminate")
def _decontaminate(args: argparse.Namespace) -> None:
    from lightr1.decontam import decontaminate_files

    decontaminate_files(args.train, args.benchmarks, args.out, modes=args.mode, ngram=args.ngram)


@command("build-problems")
def _build_problems(args: argparse.Namespace) -> None:
    from lightr1.ledger import build_problems_files

    build_problems_files(
        staged=args.staged,
        raw=dict(item.split("=", 1) for item in args.raw),
        matches=args.matches,
        mode=args.mode,
        near_threshold=args.near_threshold,
        problems_out=args.problems,
        ledger_out=args.ledger,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lightr1", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tiny-world", help="write the seeded tiny world's raw files")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-problems", type=int, default=400, help="distinct training problems before planting")

    for name, what in (("stage-source", "training source"), ("stage-benchmark", "benchmark")):
        p = sub.add_parser(name, help=f"map a raw {what} file to the unified table, rejecting bad rows with a reason")
        p.add_argument("--name", required=True, help=f"{what} name recorded in every row")
        p.add_argument("--adapter", required=True)
        p.add_argument("--input", required=True, help="raw file: parquet, jsonl, json or csv")
        p.add_argument("--out", required=True, help="staged table (.parquet or .jsonl)")
        p.add_argument("--options", default="{}", help="adapter options as a JSON object")
        p.add_argument("--max-problem-chars", type=int, default=20_000)
        p.add_argument("--max-response-chars", type=int, default=200_000)

    p = sub.add_parser("download", help="load a hub dataset with `datasets` and save it as parquet")
    p.add_argument("--hub", required=True, help="hub id (or a local dataset folder)")
    p.add_argument("--hub-config", default=None)
    p.add_argument("--split", default="train")
    p.add_argument("--revision", default=None)
    p.add_argument("--out", required=True)

    p = sub.add_parser("decontaminate", help="find training problems that copy benchmark problems")
    p.add_argument("--train", nargs="+", required=True, help="jsonl/parquet files with problem_id and problem")
    p.add_argument("--benchmarks", nargs="+", required=True, help="jsonl/parquet files with problem_id and problem")
    p.add_argument("--out", required=True, help="matches table (.parquet or .jsonl)")
    p.add_argument("--mode", nargs="+", default=["default"], choices=["default", "light-r1"])
    p.add_argument("--ngram", type=int, default=32, help="n-gram length in words")

    p = sub.add_parser("build-problems", help="apply rejects, contamination and dedup; write problems and ledger")
    p.add_argument("--staged", nargs="+", required=True)
    p.add_argument("--raw", nargs="+", required=True, help="SOURCE=PATH of each raw file, to reconcile counts")
    p.add_argument("--matches", required=True)
    p.add_argument("--mode", default="default", help="decontamination mode whose matches count")
    p.add_argument("--near-threshold", type=float, default=95.0, help="rapidfuzz ratio for near-duplicates (0 turns it off)")
    p.add_argument("--problems", required=True)
    p.add_argument("--ledger", required=True)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        _COMMANDS[args.command](args)
    except Lightr1Error as err:
        # Known failure modes end in one clear line, not a stack trace.
        print(f"lightr1 {args.command}: error: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
