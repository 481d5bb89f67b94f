# Benchmark evaluation: every evaluated model samples every benchmark (the `sample` and `score`
# rules of grading.smk, prompt set eval_{benchmark}); the scored shards of a model on a
# benchmark become one table, and all tables one metrics table and the report.


rule eval_prompts:
    input:
        benchmark="results/data/benchmarks/{benchmark}.parquet",
        code=code("eval.samples"),
    output:
        "results/prompts/eval_{benchmark}.parquet",
    log:
        "logs/eval_prompts/{benchmark}.log",
    conda:
        "../envs/data.yaml"
    shell:
        "python -m lightr1 prompt-set --benchmark {input.benchmark} --out {output} > {log} 2>&1"


rule eval_table:
    input:
        scored=lambda wc: sample_files(f"eval_{wc.benchmark}", folder="scores", model=wc.model),
        prompts="results/prompts/eval_{benchmark}.parquet",
        code=code("eval.samples", "curriculum.grading"),
    output:
        "results/eval/{model}/{benchmark}.parquet",
    log:
        "logs/eval_table/{model}/{benchmark}.log",
    conda:
        "../envs/data.yaml"
    params:
        n=config["eval"]["sampling"]["n"],
    shell:
        "python -m lightr1 eval-table --scored {input.scored} --prompts {input.prompts} --benchmark {wildcards.benchmark}"
        " --n {params.n} --out {output} > {log} 2>&1"


rule eval_metrics:
    input:
        tables=expand("results/eval/{model}/{benchmark}.parquet", model=EVAL_MODELS, benchmark=EVAL_BENCHMARKS),
        code=code("eval.metrics"),
    output:
        metrics="results/eval/metrics.parquet",
        comparisons="results/eval/comparisons.parquet",
        tsv=report("results/eval/metrics.tsv", caption="../report/metrics.rst", category="Evaluation"),
    log:
        "logs/eval_metrics.log",
    benchmark:
        "benchmarks/eval_metrics.tsv"
    conda:
        "../envs/data.yaml"
    params:
        models=" ".join(EVAL_MODELS),
        compare=" ".join(f"{model}:{reference}" for model, reference in eval_comparisons(config)),
        args=cli_args(
            resamples=config["eval"]["resamples"],
            confidence=config["eval"]["confidence"],
            max_half_width=config["eval"]["max_half_width"],
            seed=config["seed"],
        ),
    shell:
        "python -m lightr1 eval-metrics --tables {input.tables} --models {params.models} --compare {params.compare}"
        " {params.args} --out {output.metrics} --comparisons {output.comparisons} --tsv {output.tsv} > {log} 2>&1"


# The report reads Snakemake's benchmark files (wall time per rule) as they are when it runs.
rule report:
    input:
        unpack(report_inputs),
    output:
        report("results/report/index.html", caption="../report/benchmark_report.rst", category="Report"),
    log:
        "logs/report.log",
    conda:
        "../envs/data.yaml"
    params:
        args=report_args,
        config=shlex.quote(json.dumps(config)),
    shell:
        "python -m lightr1 report --metrics {input.metrics} --comparisons {input.comparisons} --eval {input.eval}"
        " --benchmarks {input.benchmarks} --funnel {input.funnel} --ledger {input.ledger} --problems {input.problems}"
        " --matches {input.matches} --config-json {params.config} {params.args} --out {output} > {log} 2>&1"
