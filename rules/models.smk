# Models: the tiny world's base model is trained here; hub models are downloaded.


# Compute nodes often lack internet: downloads run on the submitting node.
localrules:
    download_model,


rule tiny_model:
    input:
        code("tiny.model", "tiny.problems", "generation.prompts"),
    output:
        directory("resources/models/tiny_base"),
    log:
        "logs/tiny_model.log",
    benchmark:
        "benchmarks/tiny_model.tsv"
    conda:
        "../envs/train.yaml"
    threads: 2
    params:
        # The base learns the prompt format it is sampled with (models' force_think for tiny_base).
        args=lambda wc: cli_args(seed=config["seed"], prompt_form=config["prompts"]["math"], **config["tiny_world"]["base_model"])
        + (" --force-think" if MODELS["tiny_base"]["force_think"] else ""),
    shell:
        "python -m lightr1 tiny-model --out {output} {params.args} > {log} 2>&1"


rule download_model:
    input:
        code("data.hub"),
    output:
        directory("resources/models/{model}"),
    log:
        "logs/download_model/{model}.log",
    conda:
        "../envs/data.yaml"
    params:
        args=lambda wc: cli_args(hub=MODELS[wc.model]["hub"], revision=MODELS[wc.model]["revision"]),
    shell:
        "python -m lightr1 download-model {params.args} --out {output} > {log} 2>&1"


ruleorder: tiny_model > download_model
