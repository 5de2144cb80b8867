"""The claims ledger (config/claims.yaml) judged on this run's tables alone, for the claims
that read pretrained_decode (issue 20, item 4). The workflow's `claims` rule needs every
table of a run, the byte model's too, which this run does not make; the ledger code is the
same, and a claim whose table is missing reads "not run" as in the rule.

Usage, from the repository root: python results/decode_sweep/ledger.py
(writes results/decode_sweep/claims_decode.md)."""

from pathlib import Path

from actsparse.report.claims import claims_rows, load_claims
from actsparse.report.tables import read_table

RUN = Path("results/decode_sweep")
tables = {p.stem: read_table(p) for p in sorted((RUN / "tables").glob("*.parquet"))}
claims = load_claims("config/claims.yaml")
rows = claims_rows(claims, tables)
decode_ids = {
    c["id"]
    for c in claims
    if c.get("pretrained", {}).get("ours", {}).get("table") == "pretrained_decode"
}
lines = [
    "# The decode claims on run `decode_sweep`",
    "",
    "Written by `python results/decode_sweep/ledger.py` from `config/claims.yaml` and this",
    "run's tables (" + ", ".join(sorted(tables)) + "): the pretrained verdicts only (this",
    "run trains no byte model). The rule and its tolerance are the ledger's, fixed in",
    "config/claims.yaml before this run.",
    "",
    "| id | seed | ours (pretrained) | verdict (pretrained) | rule | why | context |",
    "|---|---|---|---|---|---|---|",
]
for r in rows:
    if r["variant"] in decode_ids:
        ours = r["ours_pretrained"]
        value = "–" if ours is None else f"{ours:.3f}"
        lines.append(
            f"| {r['variant']} | {r['seed_value']:.3g} | {value} | {r['verdict_pretrained']} "
            f"| {r['rule']} | {r['why_pretrained'] or ''} | {r['context'] or ''} |"
        )
out = RUN / "claims_decode.md"
out.write_text("\n".join(lines) + "\n")
print(out.read_text())
