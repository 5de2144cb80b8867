# Tables built from tables (sweep parts gathered), the refuted-approaches log, the claims
# ledger, the results page, and every figure.


rule gather_table:
    input:
        parts=gather_parts,
    output:
        table=f"{RES}/tables/{{stage}}.parquet",
    log:
        f"{LOGS}/gather_table/{{stage}}.log",
    benchmark:
        f"{BENCH}/gather_table/{{stage}}.tsv"
    wildcard_constraints:
        stage="|".join(PARTS),
    conda:
        "../envs/actsparse.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        lib=code("gather_table.py"),
    script:
        "../scripts/gather_table.py"


rule refuted_log:
    input:
        naive_gating=f"{RES}/tables/naive_gating.parquet",
        hard_swap=f"{RES}/tables/hard_swap.parquet",
        relufy=f"{RES}/tables/relufy.parquet",
        scratch=f"{RES}/tables/scratch.parquet",
        prune=f"{RES}/tables/prune.parquet",
        combined=f"{RES}/tables/combined.parquet",
    output:
        table=f"{RES}/tables/refuted.parquet",
        md=f"{RES}/refuted-approaches.md",
    log:
        f"{LOGS}/refuted_log.log",
    benchmark:
        f"{BENCH}/refuted_log.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        lib=code("refuted_log.py"),
        cfg=section("refuted_log"),
    script:
        "../scripts/refuted_log.py"


# Every seed claim beside our number (config/claims.yaml); a table a claim names that this
# run does not produce gives "not run", so the ledger never blocks on an unbuilt stage.
rule claims:
    input:
        claims="config/claims.yaml",
        tables=CLAIM_TABLES,
    output:
        table=f"{RES}/tables/claims.parquet",
        md=f"{RES}/claims.md",
    log:
        f"{LOGS}/claims.log",
    benchmark:
        f"{BENCH}/claims.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        lib=code("claims.py"),
        cfg=section(),
    script:
        "../scripts/claims.py"


# The run's front page: headline figures and the claims ledger, readable on GitHub. It
# links the figures rather than reading them, so a plot-only edit does not rewrite it.
rule results_page:
    input:
        claims=f"{RES}/tables/claims.parquet",
    output:
        md=f"{RES}/RESULTS.md",
    log:
        f"{LOGS}/results_page.log",
    benchmark:
        f"{BENCH}/results_page.tsv"
    conda:
        "../envs/actsparse.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        lib=code("results_page.py"),
        cfg=section(),
        figures=HEADLINE_FIGURES,
    script:
        "../scripts/results_page.py"


# Every figure, drawn from Parquet alone. Which tables a figure reads is declared once, in
# actsparse.report.figures.FIGURE_TABLES; editing `plots` reruns only this rule. Each PNG goes
# into the Snakemake report with its caption from workflow/report/figures/.
rule plot:
    input:
        tables=figure_tables,
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
        plots=section_of("plots"),
        caption=figure_caption,
    script:
        "../scripts/plot.py"
