rule plot_train_dense:
    input:
        table=rules.train_dense.output.table,
    output:
        png=f"{RES}/figures/train_dense_curve.png",
        pdf=f"{RES}/figures/train_dense_curve.pdf",
    log:
        f"{LOGS}/plot_train_dense.log",
    benchmark:
        f"{BENCH}/plot_train_dense.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        plots=config["plots"],
    script:
        "../scripts/plot_train_dense.py"
