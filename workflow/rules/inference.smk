# The sparse FFN kernels and the decode engine, timed: synthetic sparsity sweeps and the real
# patterns of the relufied and combined models. Wall-clock: each runs alone on the machine.


rule kernel_benchmark:
    input:
        models=RELUFY_MODELS + COMBINED_MODELS,
        val=SPLITS["val"],
    output:
        table=f"{RES}/tables/kernels.parquet",
    log:
        f"{LOGS}/kernel_benchmark.log",
    benchmark:
        f"{BENCH}/kernel_benchmark.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: workflow.cores  # alone on the machine: timings are not shared with other jobs
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        lib=code("kernel_benchmark.py"),
        cfg=section("kernels"),
    script:
        "../scripts/kernel_benchmark.py"


rule decode:
    input:
        models=[DENSE] + RELUFY_MODELS + COMBINED_MODELS,
        test=SPLITS["test"],
    output:
        table=f"{RES}/tables/decode.parquet",
    log:
        f"{LOGS}/decode.log",
    benchmark:
        f"{BENCH}/decode.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: workflow.cores  # alone on the machine: timings are not shared with other jobs
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        lib=code("decode.py"),
        cfg=section("decode"),
    script:
        "../scripts/decode.py"


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
