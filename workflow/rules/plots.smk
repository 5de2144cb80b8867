# Every figure, drawn from Parquet alone. Which tables a figure reads is declared once,
# in actsparse.plots.FIGURE_TABLES; editing `plots` reruns only this rule.


rule plot:
    input:
        tables=lambda w: [f"{RES}/tables/{t}.parquet" for t in FIGURE_TABLES[w.figure]],
    output:
        png=f"{RES}/figures/{{figure}}.png",
        pdf=f"{RES}/figures/{{figure}}.pdf",
    log:
        f"{LOGS}/plot/{{figure}}.log",
    benchmark:
        f"{BENCH}/plot/{{figure}}.tsv"
    wildcard_constraints:
        figure="|".join(FIGURE_TABLES),
    conda:
        "../envs/actsparse.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        lib=code("plot.py"),
        plots=config["plots"],
    script:
        "../scripts/plot.py"
