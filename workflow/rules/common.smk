# Validation, shared paths and the config subsets each rule passes through params:.
# Validation runs at parse time, so a bad config stops the workflow before any job.
import sys

from actsparse.config import ConfigError, load_schema, validate_config

try:
    config = validate_config(
        config, load_schema(workflow.source_path("../schemas/config.schema.yaml"))
    )
except ConfigError as e:
    sys.exit(f"actsparse: {e}")

RUN = config["run_name"]
RES = f"results/{RUN}"
LOGS = f"logs/{RUN}"
BENCH = f"benchmarks/{RUN}"

# The config subset a rule depends on: editing anything else never reruns it.
section = lambda *names: {n: config[n] for n in names}

ALL_OUTPUTS = [
    f"{RES}/tables/corpus.parquet",
    f"{RES}/tables/train_dense.parquet",
    f"{RES}/figures/train_dense_curve.png",
    f"{RES}/figures/train_dense_curve.pdf",
]
