# actsparse: activation sparsity in byte-level transformers, from one command.
#   snakemake --cores 2                                  # the default run (config/config.yaml)
#   snakemake --cores 2 --configfile config/smoke.yaml   # seconds-scale, every rule


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/dense.smk"
include: "workflow/rules/retrofit.smk"
include: "workflow/rules/relufy.smk"
include: "workflow/rules/scratch.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/inference.smk"
include: "workflow/rules/pretrained.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        ALL_OUTPUTS,
