# A pretrained LLM (pretrained.source) through the training-free stages: the model saved
# once as a Hugging Face directory, the zero-shot task files, its natural statistics, and
# per method (dense, thresholds, hard_swap) quality on the bpb axis and zero-shot accuracy.


rule pretrained_model:
    output:
        model=directory(PRETRAINED_DIR),
    log:
        f"{LOGS}/pretrained_model.log",
    benchmark:
        f"{BENCH}/pretrained_model.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=6000,
        runtime=30,
    params:
        lib=code("pretrained_model.py"),
        source=pretrained_source,
    script:
        "../scripts/pretrained_model.py"


rule zeroshot_tasks:
    output:
        tasks=ZEROSHOT_TASKS,
    log:
        f"{LOGS}/zeroshot_tasks.log",
    benchmark:
        f"{BENCH}/zeroshot_tasks.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        lib=code("zeroshot_tasks.py"),
        cfg=zeroshot_section,
    script:
        "../scripts/zeroshot_tasks.py"


rule pretrained_dense_stats:
    input:
        model=PRETRAINED_DIR,
        val=SPLITS["val"],
    output:
        table=f"{RES}/tables/pretrained_dense_stats.parquet",
    log:
        f"{LOGS}/pretrained_dense_stats.log",
    benchmark:
        f"{BENCH}/pretrained_dense_stats.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=6000,
        runtime=30,
    params:
        lib=code("pretrained_dense_stats.py"),
        cfg=section("pretrained"),
    script:
        "../scripts/pretrained_dense_stats.py"


rule pretrained_method:
    input:
        model=PRETRAINED_DIR,
        val=SPLITS["val"],
        train=SPLITS["train"],
        tasks=ZEROSHOT_TASKS,
    output:
        quality=f"{RES}/tables/parts/pretrained_quality/{{method}}.parquet",
        zeroshot=f"{RES}/tables/parts/pretrained_zeroshot/{{method}}.parquet",
    log:
        f"{LOGS}/pretrained_method/{{method}}.log",
    benchmark:
        f"{BENCH}/pretrained_method/{{method}}.tsv"
    wildcard_constraints:
        method="|".join(PRETRAINED_METHODS),
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=6000,
        runtime=120,
    params:
        lib=code("pretrained_method.py"),
        cfg=section("pretrained"),
    script:
        "../scripts/pretrained_method.py"


rule pretrained_control:
    input:
        model=PRETRAINED_DIR,
        train=SPLITS["train"],
        val=SPLITS["val"],
        tasks=ZEROSHOT_TASKS,
    output:
        table=f"{RES}/tables/pretrained_control.parquet",
        zeroshot=f"{RES}/tables/parts/pretrained_zeroshot/control.parquet",
        model=directory(f"{RES}/models/pretrained/control"),
    log:
        f"{LOGS}/pretrained_control.log",
    benchmark:
        f"{BENCH}/pretrained_control.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=600,
        gpu=GPU,
    params:
        lib=code("pretrained_finetune.py"),
        cfg=PRETRAINED_FINETUNE_PARAMS,
        schedule=None,
        checkpoint=checkpoint_path("pretrained_control"),
    script:
        "../scripts/pretrained_finetune.py"


rule pretrained_relufy:
    input:
        model=PRETRAINED_DIR,
        train=SPLITS["train"],
        val=SPLITS["val"],
        control=f"{RES}/tables/pretrained_control.parquet",
        tasks=ZEROSHOT_TASKS,
    output:
        table=f"{RES}/tables/parts/pretrained_relufy/{{schedule}}.parquet",
        zeroshot=f"{RES}/tables/parts/pretrained_zeroshot/relufy_{{schedule}}.parquet",
        model=directory(f"{RES}/models/pretrained/relufy_{{schedule}}"),
    log:
        f"{LOGS}/pretrained_relufy/{{schedule}}.log",
    benchmark:
        f"{BENCH}/pretrained_relufy/{{schedule}}.tsv"
    wildcard_constraints:
        schedule="|".join(PRETRAINED_SCHEDULES) or "none",
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=600,
        gpu=GPU,
    params:
        lib=code("pretrained_finetune.py"),
        cfg=PRETRAINED_FINETUNE_PARAMS,
        schedule=pretrained_schedule,
        checkpoint=checkpoint_path("pretrained_relufy_{schedule}"),
    script:
        "../scripts/pretrained_finetune.py"


rule pretrained_flops:
    input:
        model=PRETRAINED_DIR,
        quality=f"{RES}/tables/pretrained_quality.parquet",
        relufy=f"{RES}/tables/pretrained_relufy.parquet",
        control=f"{RES}/tables/pretrained_control.parquet",
    output:
        table=f"{RES}/tables/pretrained_flops.parquet",
    log:
        f"{LOGS}/pretrained_flops.log",
    benchmark:
        f"{BENCH}/pretrained_flops.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        lib=code("pretrained_flops.py"),
        cfg=section("pretrained"),
    script:
        "../scripts/pretrained_flops.py"


rule pretrained_rsb:
    input:
        model=rsb_start,
        train=SPLITS["train"],
        val=SPLITS["val"],
        control=f"{RES}/tables/pretrained_control.parquet",
        tasks=ZEROSHOT_TASKS,
    output:
        table=f"{RES}/tables/parts/pretrained_rsb/{{variant}}.parquet",
        zeroshot=f"{RES}/tables/parts/pretrained_zeroshot/{{variant}}.parquet",
        model=directory(f"{RES}/models/pretrained/{{variant}}"),
    log:
        f"{LOGS}/pretrained_rsb/{{variant}}.log",
    benchmark:
        f"{BENCH}/pretrained_rsb/{{variant}}.tsv"
    wildcard_constraints:
        variant="|".join(PRETRAINED_RSB) or "none",
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=600,
        gpu=GPU,
    params:
        lib=code("pretrained_rsb.py"),
        cfg=PRETRAINED_FINETUNE_PARAMS,
        checkpoint=checkpoint_path("pretrained_rsb_{variant}"),
    script:
        "../scripts/pretrained_rsb.py"


rule pretrained_prune:
    input:
        model=PRETRAINED_DIR,
        train=SPLITS["train"],
        val=SPLITS["val"],
        flops=f"{RES}/tables/pretrained_flops.parquet",
        control=f"{RES}/tables/pretrained_control.parquet",
        tasks=ZEROSHOT_TASKS,
    output:
        table=f"{RES}/tables/parts/pretrained_prune/{{method}}.parquet",
        zeroshot=f"{RES}/tables/parts/pretrained_zeroshot/prune_{{method}}.parquet",
    log:
        f"{LOGS}/pretrained_prune/{{method}}.log",
    benchmark:
        f"{BENCH}/pretrained_prune/{{method}}.tsv"
    wildcard_constraints:
        method="|".join(PRETRAINED_PRUNE) or "none",
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=600,
        gpu=GPU,
    params:
        lib=code("pretrained_prune.py"),
        cfg=PRETRAINED_FINETUNE_PARAMS,
        checkpoint=checkpoint_path("pretrained_prune_{method}"),
    script:
        "../scripts/pretrained_prune.py"


rule pretrained_cett:
    input:
        model=cett_model,
        dense=f"{RES}/tables/parts/pretrained_quality/dense.parquet",
        val=SPLITS["val"],
        train=SPLITS["train"],
    output:
        table=f"{RES}/tables/parts/pretrained_cett/{{variant}}.parquet",
    log:
        f"{LOGS}/pretrained_cett/{{variant}}.log",
    benchmark:
        f"{BENCH}/pretrained_cett/{{variant}}.tsv"
    wildcard_constraints:
        variant="|".join(map(re.escape, CETT_VARIANTS)) or "none",
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        lib=code("pretrained_cett.py"),
        cfg=section("pretrained"),
    script:
        "../scripts/pretrained_cett.py"


rule pretrained_inputs:
    input:
        model=cett_model,
        dense=f"{RES}/tables/parts/pretrained_quality/dense.parquet",
        val=SPLITS["val"],
    output:
        table=f"{RES}/tables/parts/pretrained_inputs/{{variant}}.parquet",
    log:
        f"{LOGS}/pretrained_inputs/{{variant}}.log",
    benchmark:
        f"{BENCH}/pretrained_inputs/{{variant}}.tsv"
    wildcard_constraints:
        variant="|".join(map(re.escape, INPUTS_VARIANTS)) or "none",
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        lib=code("pretrained_inputs.py"),
        cfg=section("pretrained"),
    script:
        "../scripts/pretrained_inputs.py"


rule pretrained_analysis:
    input:
        model=cett_model,
        val=SPLITS["val"],
    output:
        preact=f"{RES}/tables/parts/pretrained_preact/{{variant}}.parquet",
        aggregated=f"{RES}/tables/parts/pretrained_aggregated/{{variant}}.parquet",
    log:
        f"{LOGS}/pretrained_analysis/{{variant}}.log",
    benchmark:
        f"{BENCH}/pretrained_analysis/{{variant}}.tsv"
    wildcard_constraints:
        variant="|".join(map(re.escape, ANALYSIS_VARIANTS)) or "none",
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        lib=code("pretrained_analysis.py"),
        cfg=section("pretrained"),
    script:
        "../scripts/pretrained_analysis.py"


rule pretrained_reuse:
    input:
        model=cett_model,
        val=SPLITS["val"],
    output:
        table=f"{RES}/tables/parts/pretrained_reuse/{{variant}}.parquet",
    log:
        f"{LOGS}/pretrained_reuse/{{variant}}.log",
    benchmark:
        f"{BENCH}/pretrained_reuse/{{variant}}.tsv"
    wildcard_constraints:
        variant="|".join(map(re.escape, REUSE_VARIANTS)) or "none",
    conda:
        "../envs/actsparse.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        lib=code("pretrained_reuse.py"),
        cfg=section("pretrained"),
    script:
        "../scripts/pretrained_reuse.py"


rule pretrained_decode:
    input:
        models=decode_models,
        val=SPLITS["val"],
    output:
        table=f"{RES}/tables/pretrained_decode.parquet",
    log:
        f"{LOGS}/pretrained_decode.log",
    benchmark:
        f"{BENCH}/pretrained_decode.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: workflow.cores  # alone on the machine: timings are not shared with other jobs
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        lib=code("pretrained_decode.py"),
        cfg=section("pretrained"),
        model_dirs=decode_model_dirs(),
        gguf_dir=f"{RES}/models/pretrained/gguf",
    script:
        "../scripts/pretrained_decode.py"


# The pretrained stages alone (config/smollm2.yaml runs them at full budget):
#   snakemake pretrained_all --cores 2 --configfile config/smollm2.yaml
rule pretrained_all:
    input:
        PRETRAINED_TABLES,
