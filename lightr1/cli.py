"""The `lightr1` command: a thin layer over the package's modules, one subcommand per step.
Modules are imported inside each command so that small jobs never pay for torch or TRL.

Over 500 lines on purpose: every handler is a few lines that call one stage folder, and each
sits with its arguments in `_parser`, so the whole command surface reads in one file."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from lightr1.errors import Lightr1Error, one_line

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


@command("tiny-model")
def _tiny_model(args: argparse.Namespace) -> None:
    from lightr1.tiny.model import train_base

    # Unset options fall back to train_base's defaults: they live in one place.
    given = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "arithmetic_share": args.arithmetic_share}
    train_base(args.out, seed=args.seed, form=args.prompt_form, force_think=args.force_think, **{k: v for k, v in given.items() if v is not None})


@command("stage-source")
def _stage_source(args: argparse.Namespace) -> None:
    from lightr1.data import sources
    from lightr1.data.ingest import Limits, stage_source
    from lightr1.io import write_table

    adapter = sources.get_adapter(args.adapter)
    limits = Limits(args.max_problem_chars, args.max_response_chars)
    write_table(stage_source(args.input, args.name, adapter, json.loads(args.options), limits), args.out)


@command("stage-benchmark")
def _stage_benchmark(args: argparse.Namespace) -> None:
    from lightr1.data import benchmarks
    from lightr1.data.ingest import Limits, stage_benchmark
    from lightr1.io import write_table

    adapter = benchmarks.get_adapter(args.adapter)
    limits = Limits(args.max_problem_chars, args.max_response_chars)
    write_table(stage_benchmark(args.input, args.name, adapter, json.loads(args.options), limits), args.out)


@command("download")
def _download(args: argparse.Namespace) -> None:
    from lightr1.data.hub import download

    download(args.hub, args.out, config=args.hub_config, split=args.split, revision=args.revision)


@command("download-model")
def _download_model(args: argparse.Namespace) -> None:
    from lightr1.data.hub import download_model

    download_model(args.hub, args.out, revision=args.revision)


@command("decontaminate")
def _decontaminate(args: argparse.Namespace) -> None:
    from lightr1.data.decontam import decontaminate_files

    decontaminate_files(args.train, args.benchmarks, args.out, modes=args.mode, ngram=args.ngram)


@command("build-problems")
def _build_problems(args: argparse.Namespace) -> None:
    from lightr1.data.ledger import build_problems_files

    build_problems_files(
        staged=args.staged,
        raw=dict(item.split("=", 1) for item in args.raw),
        matches=args.matches,
        mode=args.mode,
        near_threshold=args.near_threshold,
        problems_out=args.problems,
        ledger_out=args.ledger,
    )


@command("prompt-set")
def _prompt_set(args: argparse.Namespace) -> None:
    import polars as pl

    from lightr1 import tables
    from lightr1.curriculum.grading import problems_prompt_set
    from lightr1.io import read_table, write_table

    if args.benchmark:
        from lightr1.eval.samples import benchmark_prompt_set

        write_table(benchmark_prompt_set(read_table(args.benchmark, tables.BENCHMARK)), args.out)
        return
    problems = read_table(args.problems, {"problem_id": pl.String, "problem": pl.String, "answer": pl.String})
    if args.teacher:  # only problems with a verified teacher response are worth grading
        chosen = read_table(args.teacher, {"problem_id": pl.String, "chosen": pl.String}).filter(pl.col("chosen").is_not_null()).select("problem_id")
        problems = problems.join(chosen, on="problem_id", how="semi")
    if args.subset:
        problems = problems.join(read_table(args.subset, {"problem_id": pl.String}).select("problem_id"), on="problem_id", how="semi")
    write_table(problems_prompt_set(problems), args.out)


@command("sample")
def _sample(args: argparse.Namespace) -> None:
    from lightr1 import tables
    from lightr1.curriculum.grading import select_shard
    from lightr1.generation import Sampling, load_backend
    from lightr1.generation.prompts import make_prompts
    from lightr1.generation.store import model_fingerprint, sample_prompts
    from lightr1.io import read_table

    options = json.loads(args.backend_options)
    prompt_set = select_shard(read_table(args.prompts, tables.PROMPT_SET), args.shard, args.shards)
    tokenizer = _tokenizer(args.model) if args.backend != "openai" or options.get("endpoint", "completions") == "completions" else None
    prompts = []
    for kind, form in (("math", args.prompt_form), ("choice", args.choice_form)):
        rows = prompt_set.filter(prompt_set["kind"] == kind)
        prompts += make_prompts(tokenizer, zip(rows["problem_id"], rows["problem"]), form, args.force_think, args.seed)
    sampling = Sampling(**json.loads(args.sampling), seed=args.seed)
    sample_prompts(
        lambda: load_backend(args.backend, args.model, options),
        prompts,
        sampling,
        model_name=args.model_name,
        fingerprint=model_fingerprint(args.model),
        backend_name=args.backend,
        work_dir=args.work_dir,
        out=args.out,
        batch_prompts=args.batch_prompts,
    )


def _tokenizer(model: str):
    from transformers import AutoTokenizer

    from lightr1.errors import loading_model

    with loading_model(model):
        return AutoTokenizer.from_pretrained(model)


@command("score")
def _score(args: argparse.Namespace) -> None:
    from lightr1 import tables
    from lightr1.curriculum.grading import score_samples
    from lightr1.io import read_table, write_table

    scored = score_samples(
        read_table(args.samples, tables.SAMPLES),
        read_table(args.prompts, tables.PROMPT_SET),
        workers=args.workers,
        timeout=args.timeout,
        whole_response=args.whole_response,
        forced_think=args.forced_think,
    )
    write_table(scored, args.out)


@command("eval-table")
def _eval_table(args: argparse.Namespace) -> None:
    from lightr1 import tables
    from lightr1.eval.samples import eval_table
    from lightr1.io import read_table, write_table

    scored = [read_table(path, tables.SCORED) for path in args.scored]
    write_table(eval_table(scored, read_table(args.prompts, tables.PROMPT_SET), args.benchmark, args.n), args.out)


@command("eval-metrics")
def _eval_metrics(args: argparse.Namespace) -> None:
    import polars as pl

    from lightr1 import tables
    from lightr1.eval.metrics import metrics_tables
    from lightr1.io import read_table, write_table

    order = {model: index for index, model in enumerate(args.models)}
    evaluations = []
    for path in args.tables:
        table = read_table(path, tables.EVAL_SAMPLES)
        if table.is_empty():
            raise Lightr1Error(f"{path}: the evaluation table has no samples")
        model, benchmark = table["model"][0], table["benchmark"][0]
        if model not in order:
            raise Lightr1Error(f"{path}: model {model!r} is not among --models")
        evaluations.append((model, benchmark, order[model], table))
    comparisons = [tuple(pair.split(":", 1)) for pair in args.compare]
    metrics, compared = metrics_tables(
        evaluations, comparisons, resamples=args.resamples, confidence=args.confidence, run_seed=args.seed, max_half_width=args.max_half_width
    )
    write_table(metrics, args.out)
    write_table(compared, args.comparisons)
    if args.tsv:  # a flat copy for Snakemake's own report and for reading in a terminal
        flat = metrics.select("model", "benchmark", "n", "problems", "pass1", "ci_low", "ci_high", "cons", "truncated", "warning")
        write_table(flat, args.tsv)
    for warning in metrics.filter(pl.col("warning").is_not_null()).iter_rows(named=True):
        logging.getLogger("lightr1.eval").warning("%s on %s: %s", warning["model"], warning["benchmark"], warning["warning"])


@command("report")
def _report(args: argparse.Namespace) -> None:
    from lightr1.report.data import load
    from lightr1.report.page import write_report

    data = load(
        metrics=args.metrics,
        comparisons=args.comparisons,
        eval_samples=args.eval,
        benchmarks=args.benchmarks,
        funnel=args.funnel,
        ledger=args.ledger,
        problems=args.problems,
        config=json.loads(args.config_json),
        pairs=args.pairs,
        matches=args.matches,
        grpo_metrics=args.grpo_metrics,
        benchmarks_dir=args.benchmarks_dir,
        repo_dir=args.repo_dir,
    )
    write_report(data, args.out, samples_per_model=args.samples_per_model, response_chars=args.response_chars)
    print(f"report: {Path(args.out).resolve()}", file=sys.stderr)


@command("pass-rates")
def _pass_rates(args: argparse.Namespace) -> None:
    import polars as pl

    from lightr1 import tables
    from lightr1.curriculum.grading import check_complete, pass_rates
    from lightr1.io import read_table, write_table

    rates = pass_rates(pl.concat([read_table(path, tables.SCORED) for path in args.scored]), args.grader)
    check_complete(rates, read_table(args.prompts, tables.PROMPT_SET), args.n)
    write_table(rates, args.out)


@command("teacher")
def _teacher(args: argparse.Namespace) -> None:
    import polars as pl

    from lightr1 import tables
    from lightr1.curriculum.teacher import verify_teachers
    from lightr1.io import read_table, write_table

    samples = pl.concat([read_table(path, tables.SAMPLES) for path in args.samples]) if args.samples else None
    write_table(verify_teachers(read_table(args.problems, tables.PROBLEMS), samples, args.seed, workers=args.workers, timeout=args.timeout), args.out)


@command("curriculum")
def _curriculum(args: argparse.Namespace) -> None:
    from lightr1 import tables
    from lightr1.curriculum import stages
    from lightr1.io import read_table, write_json, write_table

    rates = read_table(args.pass_rates, tables.PASS_RATES)
    if args.stage == 1:
        sft = stages.select_stage1(read_table(args.problems, tables.PROBLEMS), read_table(args.teacher, tables.TEACHER), rates, args.alpha)
    else:
        sft = stages.select_stage2(read_table(args.stage1, tables.SFT), rates, args.alpha, args.mixed_teacher)
    write_table(sft, args.out)
    write_json(stages.sharegpt(sft), args.sharegpt)


@command("funnel")
def _funnel(args: argparse.Namespace) -> None:
    from lightr1 import tables
    from lightr1.curriculum.stages import dataset_info, funnel
    from lightr1.io import read_table, write_json, write_table

    contracts = {"ledger": tables.LEDGER, "problems": tables.PROBLEMS, "teacher": tables.TEACHER, "rates1": tables.PASS_RATES}
    contracts |= {"stage1": tables.SFT, "rates2": tables.PASS_RATES, "stage2": tables.SFT}
    write_table(funnel(**{name: read_table(getattr(args, name), schema) for name, schema in contracts.items()}), args.out)
    write_json(dataset_info(dict(item.split("=", 1) for item in args.dataset)), args.dataset_info)


@command("dpo-pairs")
def _dpo_pairs(args: argparse.Namespace) -> None:
    import polars as pl

    from lightr1 import tables
    from lightr1.curriculum import pairs as dpo
    from lightr1.io import read_table, write_json, write_table

    scored = pl.concat([read_table(path, tables.SCORED) for path in args.scored])
    pairs = dpo.build_pairs(read_table(args.pool, tables.SFT), scored, args.rejected, args.seed, args.forced_think)
    specials = dpo.special_tokens(args.special_tokens_from) if args.special_tokens_from else []
    stripped = dpo.strip_rejected(pairs, specials)
    for table, out, export in ((pairs, args.out, args.sharegpt), (stripped, args.out_v2, args.sharegpt_v2)):
        write_table(table, out)
        write_json(dpo.sharegpt_ranking(table), export)
    names = {"light_r1_dpo": Path(args.sharegpt).name, "light_r1_dpo_v2": Path(args.sharegpt_v2).name}
    write_json(dpo.ranking_dataset_info(names), args.dataset_info)
    kinds = dict(pairs["rejected_kind"].value_counts().iter_rows())
    logging.getLogger("lightr1.curriculum.pairs").info("%d pairs; rejected kinds %s; v2 strips %s", len(pairs), kinds, specials)


@command("grpo-prompts")
def _grpo_prompts(args: argparse.Namespace) -> None:
    import polars as pl

    from lightr1 import tables
    from lightr1.curriculum.grading import check_complete, pass_rates
    from lightr1.io import read_table, write_table
    from lightr1.train.grpo import grpo_prompts

    prompt_set = read_table(args.prompts, tables.PROMPT_SET)
    rates = pass_rates(pl.concat([read_table(path, tables.SCORED) for path in args.scored]), args.model)
    check_complete(rates, prompt_set, args.n)
    selected = grpo_prompts(prompt_set, rates, args.low, args.high)
    if args.max_prompts is not None and len(selected) > args.max_prompts:
        selected = selected.sample(args.max_prompts, seed=args.seed).sort("problem_id")
    write_table(selected, args.out)


def _train(args: argparse.Namespace) -> None:
    """train-sft, train-dpo, train-grpo: lightr1.train.{kind}.train_{kind} with the same flags."""
    import importlib

    kind = args.command.removeprefix("train-")
    train = getattr(importlib.import_module(f"lightr1.train.{kind}"), f"train_{kind}")
    train(args.data, args.init, args.out, args.work_dir, json.loads(args.settings), form=args.prompt_form, force_think=args.force_think, seed=args.seed)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        _end_without_finalising()


def _end_without_finalising() -> None:
    """End one process of a multi-process training job whose work is done (published, the
    process group closed) without the interpreter's finalisation: there gloo's worker threads
    can still abort it ("terminate called without an active exception", SIGABRT; pytorch
    PR 179291 describes it), and torchrun then fails the finished job. Seen with plain data
    parallelism under load after the process group was closed. The verifier's workers end on
    their closed stdin."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


for _kind in ("sft", "dpo", "grpo"):
    command(f"train-{_kind}")(_train)


@command("merge")
def _merge(args: argparse.Namespace) -> None:
    from lightr1.merge import merge_models

    merge_models(args.models, args.out, weights=args.weights, method=args.method, base_model=args.base_model, options=json.loads(args.options))


@command("verify")
def _verify(args: argparse.Namespace) -> None:
    from lightr1.verify.verdicts import verify_file

    verify_file(args.input, args.out, workers=args.workers, timeout=args.timeout, whole_response=args.whole_response, forced_think=args.forced_think)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lightr1", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tiny-world", help="write the seeded tiny world's raw files")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-problems", type=int, default=400, help="distinct training problems before planting")

    p = sub.add_parser("tiny-model", help="train the tiny world's base model (worked arithmetic, short answers, no long reasoning) and save it")
    p.add_argument("--out", required=True, help="model folder to write (atomically)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: train_base's)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (warmup, then cosine to a tenth)")
    p.add_argument("--arithmetic-share", type=float, default=None, help="share of steps spent reading worked examples rather than chats")
    p.add_argument("--prompt-form", default="light-r1", help="prompt form name or a template with {problem}, as grading will use")
    p.add_argument("--force-think", action="store_true", help="prompts end in <think>\\n, as Light-R1 hard-codes")

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

    p = sub.add_parser("download-model", help="fetch a hub model repository into a local folder")
    p.add_argument("--hub", required=True)
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
    p = sub.add_parser("prompt-set", help="the problems a grader (or an evaluated model) is asked, with their golds")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--problems", help="the problem table (training problems)")
    group.add_argument("--benchmark", help="a staged benchmark table (its usable rows)")
    p.add_argument("--teacher", help="keep only problems with a verified teacher response in this table")
    p.add_argument("--subset", help="keep only problems listed in this table")
    p.add_argument("--out", required=True)

    p = sub.add_parser("sample", help="sample a model on one shard of a prompt set (resumable)")
    p.add_argument("--prompts", required=True, help="prompt set table")
    p.add_argument("--model", required=True, help="model folder, or the served model's name for the openai backend")
    p.add_argument("--model-name", required=True, help="the model's name in config, recorded in every row")
    p.add_argument("--backend", required=True, choices=["hf", "vllm", "openai"])
    p.add_argument("--backend-options", default="{}", help="backend options as a JSON object")
    p.add_argument("--sampling", required=True, help='JSON: {"n", "temperature", "top_p", "max_tokens"}')
    p.add_argument("--seed", type=int, required=True, help="run seed; per-prompt seeds derive from it")
    p.add_argument("--prompt-form", required=True, help="named prompt form or a template with {problem}")
    p.add_argument("--choice-form", default="gpqa", help="prompt form of multiple-choice rows (kind choice)")
    p.add_argument("--force-think", action="store_true", help="append <think> to the generation prompt")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--batch-prompts", type=int, default=64, help="prompts per resumable batch")
    p.add_argument("--work-dir", required=True, help="where finished batches are kept for resume")
    p.add_argument("--out", required=True)

    p = sub.add_parser("score", help="verify raw samples against their problems' golds")
    p.add_argument("--samples", required=True)
    p.add_argument("--prompts", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--whole-response", action="store_true", help="grade the whole response (Light-R1's protocol)")
    p.add_argument("--forced-think", action="store_true", help="the prompt ended in <think>: an unclosed think has no answer")

    p = sub.add_parser("eval-table", help="one model's scored samples on one benchmark, from its shards, checked complete")
    p.add_argument("--scored", nargs="+", required=True, help="scored shard tables")
    p.add_argument("--prompts", required=True, help="the benchmark's prompt set")
    p.add_argument("--benchmark", required=True)
    p.add_argument("--n", type=int, required=True, help="samples per problem")
    p.add_argument("--out", required=True)

    p = sub.add_parser("eval-metrics", help="pass@1 with bootstrap intervals, pass@k, cons@n, lengths; paired comparisons of stages")
    p.add_argument("--tables", nargs="+", required=True, help="evaluation tables (results/eval/{model}/{benchmark}.parquet)")
    p.add_argument("--models", nargs="+", required=True, help="models in report order")
    p.add_argument("--compare", nargs="*", default=[], help="MODEL:REFERENCE pairs to compare")
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--max-half-width", type=float, default=None, help="warn where an interval is wider than this on either side")
    p.add_argument("--seed", type=int, required=True, help="run seed; bootstrap seeds derive from it")
    p.add_argument("--out", required=True, help="metrics table")
    p.add_argument("--comparisons", required=True, help="comparisons table")
    p.add_argument("--tsv", help="also write the headline columns as a TSV table")

    p = sub.add_parser("report", help="the self-contained HTML benchmark report")
    p.add_argument("--metrics", required=True)
    p.add_argument("--comparisons", required=True)
    p.add_argument("--eval", nargs="+", required=True, help="evaluation tables")
    p.add_argument("--benchmarks", nargs="+", required=True, help="staged benchmark tables (problem texts)")
    p.add_argument("--funnel", required=True)
    p.add_argument("--ledger", required=True)
    p.add_argument("--problems", nargs="+", required=True, help="problems.parquet, then staged source tables (texts of dropped rows)")
    p.add_argument("--config-json", required=True, help="the run's config as JSON (shown under provenance)")
    p.add_argument("--pairs", help="DPO pairs table, if DPO ran")
    p.add_argument("--matches", help="decontamination matches table")
    p.add_argument("--grpo-metrics", help="GRPO per-step metrics table, if GRPO ran")
    p.add_argument("--benchmarks-dir", default="benchmarks", help="Snakemake's benchmark files (wall time per rule)")
    p.add_argument("--repo-dir", default=".", help="the checkout whose commit is recorded")
    p.add_argument("--samples-per-model", type=int, default=2)
    p.add_argument("--response-chars", type=int, default=2000)
    p.add_argument("--out", required=True)

    p = sub.add_parser("pass-rates", help="per-problem pass rates from scored shards")
    p.add_argument("--scored", nargs="+", required=True)
    p.add_argument("--prompts", required=True, help="the prompt set: every problem must have --n samples")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--grader", required=True)
    p.add_argument("--out", required=True)

    p = sub.add_parser("teacher", help="verify teacher responses and choose one verified-correct response per problem")
    p.add_argument("--problems", required=True)
    p.add_argument("--samples", nargs="+", help="sample shards of a teacher model, added to the sources' responses")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--out", required=True)

    p = sub.add_parser("curriculum", help="select the SFT stage-1 or stage-2 problems")
    p.add_argument("--stage", type=int, choices=[1, 2], required=True)
    p.add_argument("--pass-rates", required=True)
    p.add_argument("--alpha", type=float, required=True, help="keep problems with pass rate below this")
    p.add_argument("--problems", help="stage 1: the problem table")
    p.add_argument("--teacher", help="stage 1: the teacher table")
    p.add_argument("--stage1", help="stage 2: the stage-1 table")
    mixed = "stage 2: require teacher samples neither all right nor all wrong"
    p.add_argument("--mixed-teacher", action=argparse.BooleanOptionalAction, default=True, help=mixed)
    p.add_argument("--out", required=True)
    p.add_argument("--sharegpt", required=True, help="Light-R1-SFTData-compatible ShareGPT JSON export")

    p = sub.add_parser("funnel", help="problems surviving each filter, by source; LLaMA-Factory dataset_info.json")
    for name in ("ledger", "problems", "teacher", "rates1", "stage1", "rates2", "stage2"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--dataset", nargs="+", required=True, help="NAME=FILE of each ShareGPT export, for dataset_info.json")
    p.add_argument("--dataset-info", required=True)
    p.add_argument("--out", required=True)

    p = sub.add_parser("dpo-pairs", help="semi-on-policy DPO pairs: teacher response vs a verified-wrong sample; v2 strips special tokens")
    p.add_argument("--pool", required=True, help="the curriculum table sampled (dpo.pool: problems and chosen responses)")
    p.add_argument("--scored", nargs="+", required=True, help="scored sample shards of the DPO sampler")
    p.add_argument("--rejected", nargs="+", required=True, choices=["wrong", "too_short", "too_long"], help="rejected kinds in order of preference")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--forced-think", action="store_true", help="the sampler's prompt ended in <think>: put it back in front of rejected samples")
    p.add_argument("--special-tokens-from", help="model folder whose tokenizer's special tokens v2 strips")
    for suffix in ("", "-v2"):
        p.add_argument(f"--out{suffix}", required=True, help=f"pairs{suffix} table")
        p.add_argument(f"--sharegpt{suffix}", required=True, help="LLaMA-Factory ShareGPT ranking export (Light-R1-DPOData)")
    p.add_argument("--dataset-info", required=True, help="LLaMA-Factory dataset_info.json for the two exports")

    p = sub.add_parser("grpo-prompts", help="GRPO's offline prompt selection: pass rates of the starting model, kept inside a window")
    p.add_argument("--prompts", required=True, help="the prompt set that was sampled")
    p.add_argument("--scored", nargs="+", required=True, help="its scored sample shards")
    p.add_argument("--model", required=True, help="the sampled model's name")
    p.add_argument("--n", type=int, required=True, help="samples per problem (checked)")
    p.add_argument("--low", type=float, required=True)
    p.add_argument("--high", type=float, required=True)
    p.add_argument("--max-prompts", type=int, help="keep at most this many (a seeded random subset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)

    stages = (
        ("sft", "SFT table: problem_id, problem, response"),
        ("dpo", "pairs table: problem_id, problem, chosen, rejected"),
        ("grpo", "selected prompts: problem_id, problem, answer"),
    )
    for kind, data in stages:
        p = sub.add_parser(f"train-{kind}", help=f"{kind.upper()} one stage with TRL (resumable); publish the picked epoch's weights")
        p.add_argument("--data", required=True, help=data)
        p.add_argument("--init", required=True, help="model folder to start from")
        p.add_argument("--out", required=True, help="model folder to write (the picked epoch, atomically)")
        p.add_argument("--work-dir", required=True, help="resumable state and per-epoch weights")
        p.add_argument("--settings", required=True, help="the stage's config block as JSON")
        p.add_argument("--prompt-form", required=True, help="named prompt form or a template with {problem}")
        p.add_argument("--force-think", action=argparse.BooleanOptionalAction, default=True, help="prompts end in <think>\\n, as Light-R1 trains")
        p.add_argument("--seed", type=int, required=True)

    p = sub.add_parser("merge", help="merge checkpoints with mergekit after checking they share architecture and tokenizer")
    p.add_argument("--models", nargs="+", required=True, help="model folders")
    p.add_argument("--weights", nargs="+", type=float, help="one per model (default: uniform)")
    p.add_argument("--method", default="linear", choices=["linear", "ties", "dare_ties", "slerp"])
    p.add_argument("--base-model", help="base for ties / dare_ties")
    p.add_argument("--options", default="{}", help="mergekit options as JSON: dtype, density, t, seed")
    p.add_argument("--out", required=True, help="model folder to write (atomically)")

    p = sub.add_parser("verify", help="judge responses against gold answers: rows {gold, response, kind?} in, + correct, extracted, reason out")
    p.add_argument("input", help="rows with gold (a string or a list), response and optional kind (math or choice)")
    p.add_argument("-o", "--out", required=True, help="output JSON lines (written atomically)")
    p.add_argument("--workers", type=int, default=1, help="processes verifying at once")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds for math-verify on one answer before reason=timeout")
    p.add_argument("--whole-response", action="store_true", help="search the whole response, ignoring think tags (Light-R1's evaluation)")
    p.add_argument("--forced-think", action="store_true", help="prompts ended in <think>: a response without </think> has no answer")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    # Progress and resume notes go to stderr, which rules send to their log files. Of the
    # processes torchrun starts, the first tells the story and the others say only what goes
    # wrong, marked with their rank (as transformers does with its replicas).
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        format="%(asctime)s " + (f"[rank {rank}] " if rank else "") + "%(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        _COMMANDS[args.command](args)
    except (Lightr1Error, OSError) as err:
        # Known failure modes, and files the system cannot read or write (a folder where a
        # file belongs, no permission, a full disk), end in one clear line, not a stack trace.
        print(f"lightr1 {args.command}: error: {one_line(err)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
