# From-scratch controls: GELU / ReLU / ReLU + L1 at one budget, and RSB's activation family.


rule scratch:
    input:
        **SPLITS,
    output:
        model=f"{RES}/models/scratch_{{variant}}.pt",
        part=f"{RES}/tables/parts/scratch/{{variant}}.parquet",
    log:
        f"{LOGS}/scratch/{{variant}}.log",
    benchmark:
        f"{BENCH}/scratch/{{variant}}.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    params:
        lib=code("scratch.py"),
        cfg=scratch_params,
        checkpoint=checkpoint_path("scratch_{variant}"),
    script:
        "../scripts/scratch.py"


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
        cfg=FAMILY_PARAMS,
        beta=wildcard_float("beta"),
        checkpoint=checkpoint_path("family_beta{beta}"),
    script:
        "../scripts/activation_family.py"
