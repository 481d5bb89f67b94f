# Teacher responses, then the curriculum: stage 1 from the stage-1 grader's pass rates, stage 2
# from the stage-2 grader's on the stage-1 problems; Light-R1-compatible exports and the funnel.


rule teacher_prompts:
    input:
        problems="results/data/problems.parquet",
        code=code("curriculum.grading"),
    output:
        "results/prompts/teacher.parquet",
    log:
        "logs/teacher_prompts.log",
    conda:
        "../envs/data.yaml"
    shell:
        "python -m lightr1 prompt-set --problems {input.problems} --out {output} > {log} 2>&1"


rule teacher:
    input:
        problems="results/data/problems.parquet",
        samples=sample_files("teacher") if "teacher" in SAMPLING else [],
        code=code("curriculum.teacher", "verify"),
    output:
        "results/teacher/teacher.parquet",
    log:
        "logs/teacher.log",
    benchmark:
        "benchmarks/teacher.tsv"
    conda:
        "../envs/data.yaml"
    threads: config["verify"]["workers"]
    params:
        samples=lambda wc, input: f"--samples {input.samples}" if input.samples else "",
        args=cli_args(seed=config["seed"], workers=config["verify"]["workers"], timeout=config["verify"]["timeout"]),
    shell:
        "python -m lightr1 teacher --problems {input.problems} {params.samples} {params.args} --out {output} > {log} 2>&1"


rule sft_stage1:
    input:
        problems="results/data/problems.parquet",
        teacher="results/teacher/teacher.parquet",
        rates="results/grading/stage1/pass_rates.parquet",
        code=code("curriculum.stages"),
    output:
        table="results/sft/stage1.parquet",
        sharegpt="results/sft/stage1.json",
    log:
        "logs/sft_stage1.log",
    conda:
        "../envs/data.yaml"
    params:
        alpha=config["curriculum"]["stage1_max_pass_rate"],
    shell:
        "python -m lightr1 curriculum --stage 1 --problems {input.problems} --teacher {input.teacher}"
        " --pass-rates {input.rates} --alpha {params.alpha}"
        " --out {output.table} --sharegpt {output.sharegpt} > {log} 2>&1"


rule sft_stage2:
    input:
        stage1="results/sft/stage1.parquet",
        rates="results/grading/stage2/pass_rates.parquet",
        code=code("curriculum.stages"),
    output:
        table="results/sft/stage2.parquet",
        sharegpt="results/sft/stage2.json",
    log:
        "logs/sft_stage2.log",
    conda:
        "../envs/data.yaml"
    params:
        alpha=config["curriculum"]["stage2_max_pass_rate"],
        mixed="--mixed-teacher" if config["curriculum"]["stage2_mixed_teacher"] else "--no-mixed-teacher",
    shell:
        "python -m lightr1 curriculum --stage 2 --stage1 {input.stage1} --pass-rates {input.rates}"
        " --alpha {params.alpha} {params.mixed}"
        " --out {output.table} --sharegpt {output.sharegpt} > {log} 2>&1"


rule funnel:
    input:
        ledger="results/data/ledger.parquet",
        problems="results/data/problems.parquet",
        teacher="results/teacher/teacher.parquet",
        rates1="results/grading/stage1/pass_rates.parquet",
        stage1="results/sft/stage1.parquet",
        rates2="results/grading/stage2/pass_rates.parquet",
        stage2="results/sft/stage2.parquet",
        code=code("curriculum.stages"),
    output:
        funnel="results/sft/funnel.parquet",
        dataset_info="results/sft/dataset_info.json",
    log:
        "logs/funnel.log",
    conda:
        "../envs/data.yaml"
    shell:
        "python -m lightr1 funnel --ledger {input.ledger} --problems {input.problems} --teacher {input.teacher}"
        " --rates1 {input.rates1} --stage1 {input.stage1} --rates2 {input.rates2} --stage2 {input.stage2}"
        " --dataset light_r1_stage1=stage1.json light_r1_stage2=stage2.json"
        " --dataset-info {output.dataset_info} --out {output.funnel} > {log} 2>&1"
