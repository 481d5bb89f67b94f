# Sampling is apart from scoring: raw samples are kept per model, prompt set and shard, and
# scoring them is a separate cheap rule, so a verifier change re-scores without regenerating.


rule grading_prompts_stage1:
    input:
        problems="results/data/problems.parquet",
        teacher="results/teacher/teacher.parquet",
        code=code("curriculum.grading"),
    output:
        "results/prompts/grade_stage1.parquet",
    log:
        "logs/grading_prompts_stage1.log",
    conda:
        "../envs/data.yaml"
    shell:
        "python -m lightr1 prompt-set --problems {input.problems} --teacher {input.teacher} --out {output} > {log} 2>&1"


rule grading_prompts_stage2:
    input:
        problems="results/data/problems.parquet",
        stage1="results/sft/stage1.parquet",
        code=code("curriculum.grading"),
    output:
        "results/prompts/grade_stage2.parquet",
    log:
        "logs/grading_prompts_stage2.log",
    conda:
        "../envs/data.yaml"
    shell:
        "python -m lightr1 prompt-set --problems {input.problems} --subset {input.stage1} --out {output} > {log} 2>&1"


rule sample:
    input:
        prompts="results/prompts/{promptset}.parquet",
        model=lambda wc: model_input(wc.model),
        code=lambda wc: code("generation.__init__", "generation.store", f"generation.{backend_of(wc.model)}", "generation.prompts", "curriculum.grading"),
    output:
        "results/samples/{model}/{promptset}/shard-{shard}-of-{shards}.parquet",
    log:
        "logs/sample/{model}/{promptset}/shard-{shard}-of-{shards}.log",
    benchmark:
        "benchmarks/sample/{model}/{promptset}/shard-{shard}-of-{shards}.tsv"
    conda:
        "../envs/vllm.yaml"
    threads: config["generation"]["threads"]
    resources:
        **per_job_resources(sample_resources, "model", MODELS),
    params:
        args=sample_args,
    shell:
        "python -m lightr1 sample --prompts {input.prompts} {params.args} --out {output} > {log} 2>&1"


rule score:
    input:
        samples="results/samples/{model}/{promptset}/shard-{shard}-of-{shards}.parquet",
        prompts="results/prompts/{promptset}.parquet",
        code=code("verify", "curriculum.grading"),
    output:
        "results/scores/{model}/{promptset}/shard-{shard}-of-{shards}.parquet",
    log:
        "logs/score/{model}/{promptset}/shard-{shard}-of-{shards}.log",
    benchmark:
        "benchmarks/score/{model}/{promptset}/shard-{shard}-of-{shards}.tsv"
    conda:
        "../envs/data.yaml"
    threads: config["verify"]["workers"]
    params:
        args=lambda wc: verify_args(wc.model),
    shell:
        "python -m lightr1 score --samples {input.samples} --prompts {input.prompts} {params.args} --out {output} > {log} 2>&1"


rule pass_rates:
    input:
        scored=lambda wc: sample_files(f"grade_{wc.stage}", folder="scores"),
        prompts="results/prompts/grade_{stage}.parquet",
        code=code("curriculum.grading"),
    output:
        "results/grading/{stage}/pass_rates.parquet",
    log:
        "logs/pass_rates/{stage}.log",
    conda:
        "../envs/data.yaml"
    params:
        args=lambda wc: cli_args(n=SAMPLING[f"grade_{wc.stage}"]["n"], grader=SAMPLING[f"grade_{wc.stage}"]["model"]),
    shell:
        "python -m lightr1 pass-rates --scored {input.scored} --prompts {input.prompts} {params.args} --out {output} > {log} 2>&1"
