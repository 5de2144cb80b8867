# "ReLU Strikes Back" analyses of the relufied model: aggregated sparsity, the speculative
# decoding formulas fed with it, and pre-activation distributions.


rule aggregated:
    input:
        **SPLITS,
        model=RELUFIED,
    output:
        table=f"{RES}/tables/aggregated.parquet",
    log:
        f"{LOGS}/aggregated.log",
    benchmark:
        f"{BENCH}/aggregated.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        lib=code("aggregated.py"),
        cfg=section("relufied", "aggregated"),
    script:
        "../scripts/aggregated.py"


rule speculative:
    input:
        **SPLITS,
        model=RELUFIED,
    output:
        table=f"{RES}/tables/speculative.parquet",
    log:
        f"{LOGS}/speculative.log",
    benchmark:
        f"{BENCH}/speculative.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        lib=code("speculative.py"),
        cfg=section("relufied", "aggregated", "speculative"),
    script:
        "../scripts/speculative.py"


rule speculative_decode:
    input:
        **SPLITS,
        model=RELUFIED,
    output:
        table=f"{RES}/tables/speculative_decode.parquet",
    log:
        f"{LOGS}/speculative_decode.log",
    benchmark:
        f"{BENCH}/speculative_decode.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: workflow.cores  # alone on the machine: timings are not shared with other jobs
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        lib=code("speculative_decode.py"),
        cfg=section("relufied", "speculative_decode"),
    script:
        "../scripts/speculative_decode.py"


rule preact:
    input:
        **SPLITS,
        dense=DENSE,
        relufied=RELUFIED,
    output:
        table=f"{RES}/tables/preact.parquet",
    log:
        f"{LOGS}/preact.log",
    benchmark:
        f"{BENCH}/preact.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        lib=code("preact.py"),
        cfg=section("relufied", "preact"),
    script:
        "../scripts/preact.py"


rule reuse:
    input:
        **SPLITS,
        model=RELUFIED,
    output:
        table=f"{RES}/tables/reuse.parquet",
    log:
        f"{LOGS}/reuse.log",
    benchmark:
        f"{BENCH}/reuse.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        lib=code("reuse.py"),
        cfg=section("relufied", "reuse"),
    script:
        "../scripts/reuse.py"


# From-scratch models across x * sigmoid(beta x), one job per beta (RSB Fig. 2).
rule activation_family:
    input:
        **SPLITS,
    output:
        model=f"{RES}/models/family_beta{{beta}}.pt",
        part=f"{RES}/tables/parts/activation_family/beta{{beta}}.parquet",
    log:
        f"{LOGS}/activation_family/beta{{beta}}.log",
    benchmark:
        f"{BENCH}/activation_family/beta{{beta}}.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        lib=code("activation_family.py"),
        cfg={
            **sweep_section("activation_family", "betas"),
            "model": config["model"],
        },
        beta=lambda w: float(w.beta),
        checkpoint=lambda w: f"{RES}/checkpoints/family_beta{w.beta}.pt",
    script:
        "../scripts/activation_family.py"


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
        cfg={
            **sweep_section("relufy", *RELUFY_SWEEP),
            "stage2": config["stage2"],
            "relufied": config["relufied"],
        },
        checkpoint=f"{RES}/checkpoints/stage2.pt",
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
        cfg={
            **sweep_section("relufy", *RELUFY_SWEEP),
            "shifted_relu": config["shifted_relu"],
        },
        checkpoint=f"{RES}/checkpoints/shifted_relu.pt",
    script:
        "../scripts/shifted_relu.py"
