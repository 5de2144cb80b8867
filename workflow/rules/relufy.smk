# Sparsity trained in: ReLU + L1 fine-tunes of the dense model, their compute-matched
# control and frontier, the combined prune + relufy stage, and RSB's stage 2 and shifted ReLU.


rule relufy_finetune:
    input:
        **SPLITS,
        control=f"{RES}/tables/dense_control.parquet",
        model=DENSE,
    output:
        model=f"{RES}/models/relufy_lam{{lam}}.pt",
        part=f"{RES}/tables/parts/relufy/lam{{lam}}.parquet",
    log:
        f"{LOGS}/relufy/lam{{lam}}.log",
    benchmark:
        f"{BENCH}/relufy/lam{{lam}}.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        lib=code("relufy_finetune.py"),
        cfg=RELUFY_BUDGET,
        fat_thresholds=FAT_THRESHOLDS,
        schedule=constant_schedule,
        checkpoint=checkpoint_path("relufy_lam{lam}"),
    script:
        "../scripts/relufy_finetune.py"


# The same fine-tune under a ramped L1 schedule (ProSparse-style), one job per named schedule.
rule relufy_schedule:
    input:
        **SPLITS,
        control=f"{RES}/tables/dense_control.parquet",
        model=DENSE,
    output:
        model=f"{RES}/models/relufy_sched_{{schedule}}.pt",
        part=f"{RES}/tables/parts/relufy/sched_{{schedule}}.parquet",
    log:
        f"{LOGS}/relufy/sched_{{schedule}}.log",
    benchmark:
        f"{BENCH}/relufy/sched_{{schedule}}.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        lib=code("relufy_finetune.py"),
        cfg=RELUFY_BUDGET,
        fat_thresholds=FAT_THRESHOLDS,
        schedule=named_schedule,
        checkpoint=checkpoint_path("relufy_sched_{schedule}"),
    script:
        "../scripts/relufy_finetune.py"


# The compute-matched control: the dense model fine-tuned with the relufy budget.
rule dense_control:
    input:
        **SPLITS,
        model=DENSE,
    output:
        model=f"{RES}/models/dense_control.pt",
        table=f"{RES}/tables/dense_control.parquet",
    log:
        f"{LOGS}/dense_control.log",
    benchmark:
        f"{BENCH}/dense_control.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        lib=code("dense_control.py"),
        cfg=RELUFY_BUDGET,
        checkpoint=checkpoint_path("dense_control"),
    script:
        "../scripts/dense_control.py"


rule relufy_frontier:
    input:
        relufy=f"{RES}/tables/relufy.parquet",
    output:
        table=f"{RES}/tables/relufy_frontier.parquet",
    log:
        f"{LOGS}/relufy_frontier.log",
    benchmark:
        f"{BENCH}/relufy_frontier.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        lib=code("relufy_frontier.py"),
        cfg=section("relufy"),
    script:
        "../scripts/relufy_frontier.py"


rule combined_sparsity:
    input:
        **SPLITS,
        control=f"{RES}/tables/dense_control.parquet",
        model=DENSE,
        pruned=pruned_model,
    output:
        model=f"{RES}/models/combined_{{structure}}.pt",
        part=f"{RES}/tables/parts/combined/{{structure}}.parquet",
    log:
        f"{LOGS}/combined/{{structure}}.log",
    benchmark:
        f"{BENCH}/combined/{{structure}}.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        lib=code("combined_sparsity.py"),
        cfg=sweep_section("combined", "structures"),
        checkpoint=checkpoint_path("combined_{structure}"),
    script:
        "../scripts/combined_sparsity.py"


# The combined stage again with the relufy frontier's best schedule (and FATReLU threshold).
rule combined_best:
    input:
        **SPLITS,
        control=f"{RES}/tables/dense_control.parquet",
        model=DENSE,
        frontier=f"{RES}/tables/relufy_frontier.parquet",
        pruned=pruned_model,
    output:
        model=f"{RES}/models/combined_{{structure}}_best.pt",
        part=f"{RES}/tables/parts/combined/{{structure}}_best.parquet",
    log:
        f"{LOGS}/combined/{{structure}}_best.log",
    benchmark:
        f"{BENCH}/combined/{{structure}}_best.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        lib=code("combined_sparsity.py"),
        cfg=sweep_section("combined", "structures"),
        checkpoint=checkpoint_path("combined_{structure}_best"),
    script:
        "../scripts/combined_sparsity.py"


rule stage2:
    input:
        **SPLITS,
        control=f"{RES}/tables/dense_control.parquet",
        dense=DENSE,
        stage1=RELUFIED,
    output:
        model=f"{RES}/models/stage2.pt",
        table=f"{RES}/tables/stage2.parquet",
    log:
        f"{LOGS}/stage2.log",
    benchmark:
        f"{BENCH}/stage2.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        lib=code("stage2.py"),
        cfg=relufy_budget_with("stage2", "relufied"),
        checkpoint=checkpoint_path("stage2"),
    script:
        "../scripts/stage2.py"


rule shifted_relu:
    input:
        **SPLITS,
        control=f"{RES}/tables/dense_control.parquet",
        dense=DENSE,
    output:
        model=f"{RES}/models/shifted_relu.pt",
        table=f"{RES}/tables/shifted_relu.parquet",
    log:
        f"{LOGS}/shifted_relu.log",
    benchmark:
        f"{BENCH}/shifted_relu.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        lib=code("shifted_relu.py"),
        cfg=relufy_budget_with("shifted_relu"),
        checkpoint=checkpoint_path("shifted_relu"),
    script:
        "../scripts/shifted_relu.py"
