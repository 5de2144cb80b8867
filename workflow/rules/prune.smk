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
        cfg=lambda w: {
            **sweep_section("prune", "ratios"),
            "prune": {
                k: v
                for k, v in config["prune"].items()
                if k not in ("ratios", "structures")
            },
        },
        ratio=lambda w: float(w.ratio),
        checkpoint=lambda w: f"{RES}/checkpoints/prune_{w.structure}_r{w.ratio}.pt",
    script:
        "../scripts/prune.py"
