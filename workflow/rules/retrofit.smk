# The refuted retrofits: natural statistics of the dense model, magnitude gating, hard swap.


rule dense_stats:
    input:
        model=DENSE,
        val=SPLITS["val"],
    output:
        table=f"{RES}/tables/dense_stats.parquet",
    log:
        f"{LOGS}/dense_stats.log",
    benchmark:
        f"{BENCH}/dense_stats.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        lib=code("dense_stats.py"),
        cfg=section("train_dense", "dense_stats"),
    script:
        "../scripts/dense_stats.py"


rule naive_gating:
    input:
        model=DENSE,
        val=SPLITS["val"],
    output:
        part=f"{RES}/tables/parts/naive_gating/tau{{tau}}.parquet",
    log:
        f"{LOGS}/naive_gating/tau{{tau}}.log",
    benchmark:
        f"{BENCH}/naive_gating/tau{{tau}}.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        lib=code("naive_gating.py"),
        cfg=sweep_section("naive_gating", "taus"),
        tau=wildcard_float("tau"),
    script:
        "../scripts/naive_gating.py"


rule hard_swap:
    input:
        model=DENSE,
        val=SPLITS["val"],
    output:
        table=f"{RES}/tables/hard_swap.parquet",
    log:
        f"{LOGS}/hard_swap.log",
    benchmark:
        f"{BENCH}/hard_swap.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        lib=code("hard_swap.py"),
        cfg=section("train_dense", "hard_swap"),
    script:
        "../scripts/hard_swap.py"
