# Decontamination against every benchmark, then the problem table and its ledger.


rule decontaminate:
    input:
        train=expand("results/data/sources/{source}.parquet", source=SOURCES),
        benchmarks=expand("results/data/benchmarks/{benchmark}.parquet", benchmark=BENCHMARKS),
        code=code("data.decontam", "data.decontam_modes", "io"),
    output:
        "results/decontam/matches.parquet",
    log:
        "logs/decontaminate.log",
    benchmark:
        "benchmarks/decontaminate.tsv"
    conda:
        "../envs/data.yaml"
    params:
        modes=" ".join(decontam_modes()),
        ngram=config["decontam"]["ngram"],
    shell:
        "python -m lightr1 decontaminate --train {input.train} --benchmarks {input.benchmarks}"
        " --mode {params.modes} --ngram {params.ngram} --out {output} > {log} 2>&1"


rule build_problems:
    input:
        staged=expand("results/data/sources/{source}.parquet", source=SOURCES),
        raw=[raw_file(entry, "raw") for entry in SOURCES.values()],
        matches="results/decontam/matches.parquet",
        code=code("data.ledger", "io"),
    output:
        problems="results/data/problems.parquet",
        ledger="results/data/ledger.parquet",
    log:
        "logs/build_problems.log",
    benchmark:
        "benchmarks/build_problems.tsv"
    conda:
        "../envs/data.yaml"
    params:
        raw=" ".join(f"{name}={raw_file(entry, 'raw')}" for name, entry in SOURCES.items()),
        mode=config["decontam"]["mode"],
        near=config["data"]["near_duplicate_threshold"],
    shell:
        "python -m lightr1 build-problems --staged {input.staged} --raw {params.raw}"
        " --matches {input.matches} --mode {params.mode} --near-threshold {params.near}"
        " --problems {output.problems} --ledger {output.ledger} > {log} 2>&1"
