# "ReLU Strikes Back" analyses of the relufied model (aggregated sparsity, the speculative
# decoding formulas fed with it, pre-activations, neuron reuse) and the FLOP accounting.


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


rule flops:
    input:
        model=DENSE,
        hard_swap=f"{RES}/tables/hard_swap.parquet",
        relufy=f"{RES}/tables/relufy.parquet",
        prune=f"{RES}/tables/prune.parquet",
        combined=f"{RES}/tables/combined.parquet",
    output:
        table=f"{RES}/tables/flops.parquet",
    log:
        f"{LOGS}/flops.log",
    benchmark:
        f"{BENCH}/flops.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        lib=code("flops.py"),
        cfg=section(),
    script:
        "../scripts/flops.py"


# CETT-PPL-p% (methods.cett): every byte-model variant on one sparsity axis, one job each.
rule cett:
    input:
        model=byte_cett_model,
        dense=DENSE,
        train=SPLITS["train"],
        val=SPLITS["val"],
    output:
        table=f"{RES}/tables/parts/cett/{{variant}}.parquet",
    log:
        f"{LOGS}/cett/{{variant}}.log",
    benchmark:
        f"{BENCH}/cett/{{variant}}.tsv"
    wildcard_constraints:
        variant="|".join(map(re.escape, BYTE_CETT_MODELS)) or "none",
    conda:
        "../envs/actsparse.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        lib=code("cett.py"),
        cfg=section("cett", "train_dense", "hard_swap"),
    script:
        "../scripts/cett.py"
