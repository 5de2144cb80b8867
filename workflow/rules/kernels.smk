# The sparse FFN kernels, timed: synthetic sparsity sweeps and the real patterns of the
# relufied and combined models. Wall-clock: run on a quiet machine (one job at a time).


rule kernel_benchmark:
    input:
        models=[f"{RES}/models/relufy_lam{l}.pt" for l in config["relufy"]["lams"]]
        + [f"{RES}/models/combined_{s}.pt" for s in config["combined"]["structures"]],
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
        models=[DENSE]
        + [f"{RES}/models/relufy_lam{l}.pt" for l in config["relufy"]["lams"]]
        + [f"{RES}/models/combined_{s}.pt" for s in config["combined"]["structures"]],
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
