# The dense GELU baseline the rest of the pipeline starts from.


rule train_dense:
    input:
        train=rules.corpus.output.train,
        val=rules.corpus.output.val,
        test=rules.corpus.output.test,
    output:
        model=DENSE,
        table=f"{RES}/tables/train_dense.parquet",
    log:
        f"{LOGS}/train_dense.log",
    benchmark:
        f"{BENCH}/train_dense.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    params:
        lib=code("train_dense.py"),
        cfg=section("device", "data", "model", "train_dense"),
        checkpoint=checkpoint_path("train_dense"),
    script:
        "../scripts/train_dense.py"
