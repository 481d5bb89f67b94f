# Training stages. Each keeps its resumable state in work/train/{stage}/ (Snakemake deletes a
# job's declared output before running it) and publishes the picked epoch at the end. Nodes,
# GPUs, CPUs, memory and runtime come from config (train_resources, train_command in common.smk).


rule train_sft:
    input:
        data=lambda wc: train_data(wc.sft_stage),
        init=lambda wc: model_input(TRAIN[wc.sft_stage]["init"]),
        deepspeed=lambda wc: deepspeed_config(wc.sft_stage),
        code=code("train.common", "train.sft", "generation.prompts"),
    output:
        directory("results/checkpoints/{sft_stage}"),
    log:
        "logs/train/{sft_stage}.log",
    benchmark:
        "benchmarks/train/{sft_stage}.tsv"
    conda:
        "../envs/train.yaml"
    threads: 2
    resources:
        **per_job_resources(train_resources, "sft_stage", SFT_STAGES),
    params:
        **TRAIN_PARAMS,
        args=lambda wc: train_args(wc.sft_stage),
    shell:
        train_command("train-sft", SFT_STAGES)


rule dpo_prompts:
    input:
        problems="results/data/problems.parquet",
        pool=lambda wc: TRAIN_DATA[config["dpo"]["pool"]],
        code=code("curriculum.grading"),
    output:
        "results/prompts/dpo.parquet",
    log:
        "logs/dpo_prompts.log",
    conda:
        "../envs/train.yaml"
    shell:
        "python -m lightr1 prompt-set --problems {input.problems} --subset {input.pool} --out {output} > {log} 2>&1"


rule dpo_pairs:
    input:
        pool=lambda wc: TRAIN_DATA[config["dpo"]["pool"]],
        scored=lambda wc: sample_files("dpo", folder="scores"),
        sampler=lambda wc: model_input(SAMPLING["dpo"]["model"]),
        code=code("curriculum.pairs", "curriculum.stages"),
    output:
        pairs="results/dpo/pairs.parquet",
        pairs_v2="results/dpo/pairs_v2.parquet",
        sharegpt="results/dpo/pairs.json",
        sharegpt_v2="results/dpo/pairs_v2.json",
        dataset_info="results/dpo/dataset_info.json",
    log:
        "logs/dpo_pairs.log",
    conda:
        "../envs/train.yaml"
    params:
        args=lambda wc, input: cli_args(seed=derived_seed(config["seed"], "dpo-pairs"), special_tokens_from=input.sampler[0] if input.sampler else None)
        + " --rejected "
        + " ".join(config["dpo"]["rejected"])
        + (" --forced-think" if MODELS[SAMPLING["dpo"]["model"]]["force_think"] else ""),
    shell:
        "python -m lightr1 dpo-pairs --pool {input.pool} --scored {input.scored} {params.args}"
        " --out {output.pairs} --out-v2 {output.pairs_v2} --sharegpt {output.sharegpt} --sharegpt-v2 {output.sharegpt_v2}"
        " --dataset-info {output.dataset_info} > {log} 2>&1"


rule train_dpo:
    input:
        data=lambda wc: train_data(wc.dpo_stage),
        init=lambda wc: model_input(TRAIN[wc.dpo_stage]["init"]),
        deepspeed=lambda wc: deepspeed_config(wc.dpo_stage),
        code=code("train.common", "train.dpo", "generation.prompts"),
    output:
        directory("results/checkpoints/{dpo_stage}"),
    log:
        "logs/train/{dpo_stage}.log",
    benchmark:
        "benchmarks/train/{dpo_stage}.tsv"
    conda:
        "../envs/train.yaml"
    threads: 2
    resources:
        **per_job_resources(train_resources, "dpo_stage", DPO_STAGES),
    params:
        **TRAIN_PARAMS,
        args=lambda wc: train_args(wc.dpo_stage),
    shell:
        train_command("train-dpo", DPO_STAGES)


rule merge:
    input:
        models=lambda wc: [model_path(name) for name in TRAIN["merged"]["models"]],
        base=lambda wc: model_input(TRAIN["merged"]["base_model"]) if TRAIN["merged"]["base_model"] else [],
        code=code("merge"),
    output:
        directory("results/checkpoints/merged"),
    log:
        "logs/train/merged.log",
    benchmark:
        "benchmarks/train/merged.tsv"
    conda:
        "../envs/train.yaml"
    threads: 2
    resources:
        **stage_resources("merged"),
    params:
        args=lambda wc: merge_args(),
    shell:
        "python -m lightr1 merge --models {input.models} {params.args} --out {output} > {log} 2>&1"


rule grpo_pool:
    input:
        problems="results/data/problems.parquet",
        pool=lambda wc: TRAIN_DATA[config["grpo"]["pool"]],
        code=code("curriculum.grading"),
    output:
        "results/prompts/grpo.parquet",
    log:
        "logs/grpo_pool.log",
    conda:
        "../envs/train.yaml"
    shell:
        "python -m lightr1 prompt-set --problems {input.problems} --subset {input.pool} --out {output} > {log} 2>&1"


rule grpo_prompts:
    input:
        prompts="results/prompts/grpo.parquet",
        scored=lambda wc: sample_files("grpo", folder="scores"),
        code=code("curriculum.grading", "train.grpo"),
    output:
        "results/grpo/prompts.parquet",
    log:
        "logs/grpo_prompts.log",
    conda:
        "../envs/train.yaml"
    params:
        args=lambda wc: cli_args(
            model=SAMPLING["grpo"]["model"],
            n=SAMPLING["grpo"]["n"],
            low=config["grpo"]["window"][0],
            high=config["grpo"]["window"][1],
            max_prompts=config["grpo"]["max_prompts"],
            seed=derived_seed(config["seed"], "grpo-prompts"),
        ),
    shell:
        "python -m lightr1 grpo-prompts --prompts {input.prompts} --scored {input.scored} {params.args} --out {output} > {log} 2>&1"


rule train_grpo:
    input:
        data=lambda wc: train_data("grpo"),
        init=lambda wc: model_input(TRAIN["grpo"]["init"]),
        deepspeed=lambda wc: deepspeed_config("grpo"),
        code=code("train.common", "train.grpo", "generation.prompts", "verify"),
    output:
        directory("results/checkpoints/grpo"),
    log:
        "logs/train/grpo.log",
    benchmark:
        "benchmarks/train/grpo.tsv"
    conda:
        "../envs/train.yaml"
    threads: 2
    resources:
        **stage_resources("grpo"),
    params:
        **TRAIN_PARAMS,
        args=lambda wc: train_args("grpo"),
    shell:
        train_command("train-grpo", ["grpo"])
