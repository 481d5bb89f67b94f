# Raw inputs: the tiny world, hub downloads, and each source/benchmark through its adapter.

TINY_FILES = [
    "raw/openr1_math.parquet",
    "raw/limo.jsonl",
    "raw/deepscaler.json",
    "benchmarks/aime.json",
    "benchmarks/math500.jsonl",
    "benchmarks/gpqa.csv",
    "benchmarks/minerva.jsonl",
    "planted.json",
]


# Compute nodes often lack internet: downloads run on the submitting node.
localrules:
    download_source,
    download_benchmark,


rule tiny_world:
    input:
        code("tiny.world", "tiny.problems"),
    output:
        [f"resources/tiny/{name}" for name in TINY_FILES],
    log:
        "logs/tiny_world.log",
    conda:
        "../envs/data.yaml"
    params:
        seed=config["seed"],
        n_problems=config["tiny_world"]["n_problems"],
    shell:
        "python -m lightr1 tiny-world --out-dir resources/tiny --seed {params.seed} --n-problems {params.n_problems} > {log} 2>&1"


rule download_source:
    input:
        code("data.hub"),
    output:
        "resources/raw/{source}.parquet",
    log:
        "logs/download/{source}.log",
    conda:
        "../envs/data.yaml"
    params:
        args=lambda wc: download_args(SOURCES[wc.source]),
    shell:
        "python -m lightr1 download {params.args} --out {output} > {log} 2>&1"


use rule download_source as download_benchmark with:
    output:
        "resources/benchmarks/{benchmark}.parquet",
    log:
        "logs/download/{benchmark}.log",
    conda:
        "../envs/data.yaml"
    params:
        args=lambda wc: download_args(BENCHMARKS[wc.benchmark]),


rule stage_source:
    input:
        raw=lambda wc: raw_file(SOURCES[wc.source], "raw"),
        code=code("data.ingest", "io", "data.sources", "text"),
    output:
        "results/data/sources/{source}.parquet",
    log:
        "logs/stage_source/{source}.log",
    benchmark:
        "benchmarks/stage_source/{source}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        args=lambda wc: stage_args(SOURCES[wc.source]),
    shell:
        "python -m lightr1 stage-source {params.args} --input {input.raw} --out {output} > {log} 2>&1"


rule stage_benchmark:
    input:
        raw=lambda wc: raw_file(BENCHMARKS[wc.benchmark], "benchmarks"),
        code=code("data.ingest", "io", "data.benchmarks", "text"),
    output:
        "results/data/benchmarks/{benchmark}.parquet",
    log:
        "logs/stage_benchmark/{benchmark}.log",
    benchmark:
        "benchmarks/stage_benchmark/{benchmark}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        args=lambda wc: stage_args(BENCHMARKS[wc.benchmark]),
    shell:
        "python -m lightr1 stage-benchmark {params.args} --input {input.raw} --out {output} > {log} 2>&1"
