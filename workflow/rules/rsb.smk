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
        cfg=section("aggregated"),
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
        cfg=section("aggregated", "speculative"),
    script:
        "../scripts/speculative.py"


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
        cfg=section("aggregated", "preact"),
    script:
        "../scripts/preact.py"
