# Magnitude pruning of the FFN weights, then recovery with the masks held at zero.


rule prune:
    input:
        **SPLITS,
        control=f"{RES}/tables/dense_control.parquet",
        model=DENSE,
    output:
        model=f"{RES}/models/prune_{{structure}}_r{{ratio}}.pt",
        part=f"{RES}/tables/parts/prune/{{structure}}_r{{ratio}}.parquet",
    log:
        f"{LOGS}/prune/{{structure}}_r{{ratio}}.log",
    benchmark:
        f"{BENCH}/prune/{{structure}}_r{{ratio}}.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        lib=code("prune.py"),
        cfg=PRUNE_PARAMS,
        ratio=wildcard_float("ratio"),
        checkpoint=checkpoint_path("prune_{structure}_r{ratio}"),
    script:
        "../scripts/prune.py"
