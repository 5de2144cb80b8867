from pathlib import Path

import pytest
import yaml

from actsparse.config import ConfigError, config_hash, validate_config

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
