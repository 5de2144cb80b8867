# Sparsity trained in: ReLU + L1 fine-tunes of the dense model, and from-scratch controls.


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
        cfg=sweep_section("relufy", *RELUFY_SWEEP),
        fat_thresholds=config["relufy"]["fat_thresholds"],
        schedule=lambda w: {"name": f"lam{float(w.lam):g}", "peak": float(w.lam)},
        checkpoint=lambda w: f"{RES}/checkpoints/relufy_lam{w.lam}.pt",
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
        cfg=sweep_section("relufy", *RELUFY_SWEEP),
        fat_thresholds=config["relufy"]["fat_thresholds"],
        schedule=lambda w: SCHEDULES[w.schedule],
        checkpoint=lambda w: f"{RES}/checkpoints/relufy_sched_{w.schedule}.pt",
    script:
        "../scripts/relufy_finetune.py"


rule scratch:
    input:
        **SPLITS,
    output:
        model=f"{RES}/models/scratch_{{variant}}.pt",
        part=f"{RES}/tables/parts/scratch/{{variant}}.parquet",
    log:
        f"{LOGS}/scratch/{{variant}}.log",
    benchmark:
        f"{BENCH}/scratch/{{variant}}.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    params:
        lib=code("scratch.py"),
        cfg=lambda w: {
            **sweep_section("scratch", "variants"),
            "model": config["model"],
            "variant": SCRATCH[w.variant],
        },
        checkpoint=lambda w: f"{RES}/checkpoints/scratch_{w.variant}.pt",
    script:
        "../scripts/scratch.py"


rule combined_sparsity:
    input:
        **SPLITS,
        control=f"{RES}/tables/dense_control.parquet",
        model=DENSE,
        pruned=PRUNED,
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
        checkpoint=lambda w: f"{RES}/checkpoints/combined_{w.structure}.pt",
    script:
        "../scripts/combined_sparsity.py"


# The combined stage again with the relufy frontier's best schedule (and FATReLU threshold).
rule combined_best:
    input:
        **SPLITS,
        control=f"{RES}/tables/dense_control.parquet",
        frontier=f"{RES}/tables/relufy_frontier.parquet",
        model=DENSE,
        pruned=PRUNED,
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
        checkpoint=lambda w: f"{RES}/checkpoints/combined_{w.structure}_best.pt",
    script:
        "../scripts/combined_sparsity.py"


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
        cfg=sweep_section("relufy", *RELUFY_SWEEP),
        checkpoint=f"{RES}/checkpoints/dense_control.pt",
    script:
        "../scripts/dense_control.py"
