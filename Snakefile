# lightr1: the Light-R1 recipe as a Snakemake workflow. Science lives in config (config.yaml,
# recipes/), execution in profiles/. Rules are thin: each calls one `lightr1` subcommand.
from snakemake.utils import min_version

min_version("9.20")


configfile: os.path.join(workflow.basedir, "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"


wildcard_constraints:
    source="|".join(SOURCES),
    benchmark="|".join(BENCHMARKS),
    model="|".join(MODELS) or "(?!)",
    promptset="|".join(SAMPLING),
    stage="stage1|stage2",
    shard=r"\d+",
    shards=r"\d+",
    sft_stage="|".join(s for s in TRAIN if s.startswith("sft")) or "(?!)",
    dpo_stage="|".join(s for s in TRAIN if s.startswith("dpo")) or "(?!)",


include: "rules/data.smk"
include: "rules/decontam.smk"
include: "rules/models.smk"
include: "rules/grading.smk"
include: "rules/curriculum.smk"
include: "rules/train.smk"
include: "rules/eval.smk"


rule all:
    default_target: True
    input:
        "results/data/problems.parquet",
        "results/data/ledger.parquet",
        "results/decontam/matches.parquet",
        "results/sft/stage1.parquet",
        "results/sft/stage2.parquet",
        "results/sft/funnel.parquet",
        "results/sft/dataset_info.json",
        [checkpoint_dir(stage) for stage in TRAIN],
        "results/report/index.html",
