# The corpus: fetched, verified, split.


rule corpus:
    output:
        train=f"{RES}/data/train.bin",
        val=f"{RES}/data/val.bin",
        test=f"{RES}/data/test.bin",
        table=f"{RES}/tables/corpus.parquet",
    log:
        f"{LOGS}/corpus.log",
    benchmark:
        f"{BENCH}/corpus.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        lib=code("corpus.py"),
        cfg=section("data"),
        context=config["model"]["block_size"],
    script:
        "../scripts/corpus.py"
