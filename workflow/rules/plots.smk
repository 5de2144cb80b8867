# Every figure, drawn from Parquet alone. Which tables a figure reads is declared once,
# in actsparse.plots.FIGURE_TABLES; editing `plots` reruns only this rule. Each PNG goes
# into the Snakemake report with its caption from workflow/report/figures/.


rule plot:
    input:
        tables=lambda w: [f"{RES}/tables/{t}.parquet" for t in FIGURE_TABLES[w.figure]],
    output:
        png=report(
            f"{RES}/figures/{{figure}}.png",
            caption="../report/figure.rst",
            category="{figure}",
        ),
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
        # The figure's report caption (workflow/report/figures/<figure>.rst), rendered by
        # ../report/figure.rst: Snakemake captions are one file per rule, not per wildcard.
        caption=lambda w: Path(
            workflow.source_path(f"../report/figures/{w.figure}.rst")
        ).read_text(),
    script:
        "../scripts/plot.py"
