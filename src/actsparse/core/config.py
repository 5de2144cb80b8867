"""Config validation against the JSON schema, and the hash that ties each table row to it.

The workflow validates before any job runs; errors name the offending key as a dotted
path (`train_dense.lr`), which the stock validators do not do.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The config does not satisfy the schema or a cross-field rule."""


def _with_defaults(validator_class: type) -> type:
    """A validator that fills `default` values of absent properties before checking them."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # noqa: ANN001
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return (
            f"config key '{key}': unknown key(s) {', '.join(map(repr, extra))}; "
            f"allowed: {', '.join(allowed)}"
        )
    return f"config key '{key}': {error.message}"


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def canonical(obj: Any) -> Any:
    """The same value with every mapping's keys sorted, recursively: Snakemake compares a
    rule's params by repr, in which a dict's key order shows, so two configs that differ
    only in key order must give the same params."""
    if isinstance(obj, Mapping):
        return {k: canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list | tuple):
        return [canonical(v) for v in obj]
    return obj


def _types(schema: Mapping[str, Any]) -> set[str]:
    t = schema.get("type", ())
    return {t} if isinstance(t, str) else set(t)


def coerce_numbers(instance: Any, schema: Mapping[str, Any]) -> Any:
    """Numbers as the schema types them, whatever their YAML spelling: 1 for a `number`
    becomes 1.0, 500.0 for an `integer` becomes 500, and a string YAML 1.1 left unparsed
    (PyYAML reads `5e-4` as text) becomes the float it spells. Same values, same params."""
    types = _types(schema)
    if isinstance(instance, dict) and "properties" in schema:
        props = schema["properties"]
        return {k: coerce_numbers(v, props[k]) if k in props else v for k, v in instance.items()}
    if isinstance(instance, list) and isinstance(schema.get("items"), Mapping):
        return [coerce_numbers(v, schema["items"]) for v in instance]
    if isinstance(instance, bool):
        return instance
    if "number" in types and isinstance(instance, int):
        return float(instance)
    if "integer" in types and isinstance(instance, float) and instance.is_integer():
        return int(instance)
    if "number" in types and isinstance(instance, str) and "string" not in types:
        try:
            return float(instance)
        except ValueError:
            return instance
    return instance


def validate_config(config: Mapping[str, Any], schema: dict | None = None) -> dict[str, Any]:
    """Return a validated copy of config with defaults filled and numbers typed as the
    schema says; raise ConfigError otherwise."""
    schema = schema if schema is not None else load_schema()
    _check_removed(config)
    cfg = coerce_numbers(copy.deepcopy(dict(config)), schema)
    errors = sorted(_Validator(schema).iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(_describe(e) for e in errors))
    _check_cross_fields(cfg)
    return cfg


# Keys that were removed, and why: a config that still sets one gets this, not "unknown key".
_ONE_THREAD = (
    "the C++ decode engine runs on one thread; the key was never honoured and was removed "
    "(2026-11-30): delete it"
)
REMOVED = {("decode", "threads"): _ONE_THREAD, ("speculative_decode", "threads"): _ONE_THREAD}


def _check_removed(config: Mapping[str, Any]) -> None:
    found = [
        f"config key '{sec}.{key}': {why}"
        for (sec, key), why in REMOVED.items()
        if isinstance(config.get(sec), Mapping) and key in config[sec]
    ]
    if found:
        raise ConfigError("invalid config:\n  " + "\n  ".join(found))


def _check_cross_fields(cfg: dict[str, Any]) -> None:
    """Rules a JSON schema cannot state."""
    problems = []
    model = cfg.get("model", {})
    if model and model["n_embd"] % model["n_head"]:
        problems.append(
            f"config key 'model.n_head': n_embd {model['n_embd']} is not "
            f"divisible by n_head {model['n_head']}"
        )
    split = cfg.get("data", {}).get("split")
    if split and abs(sum(split) - 1.0) > 1e-6:
        problems.append(f"config key 'data.split': fractions {split} must sum to 1")
    data = cfg.get("data", {})
    if data.get("source") == "file" and not (data.get("file") or {}).get("path"):
        problems.append("config key 'data.file.path': required when data.source is 'file'")
    td = cfg.get("train_dense", {})
    if td and td["warmup_steps"] >= td["steps"]:
        problems.append(
            f"config key 'train_dense.warmup_steps': {td['warmup_steps']} must be "
            f"below train_dense.steps ({td['steps']})"
        )
    for name in ("decode", "speculative_decode"):  # generation stages: prompt + new bytes
        sec = cfg.get(name, {})
        if sec and model and sec["prompt_bytes"] + sec["new_bytes"] > model["block_size"]:
            problems.append(
                f"config key '{name}.new_bytes': prompt_bytes + new_bytes "
                f"({sec['prompt_bytes']} + {sec['new_bytes']}) exceed model.block_size "
                f"({model['block_size']})"
            )
    prune, comb = cfg.get("prune", {}), cfg.get("combined", {})
    if prune and comb:  # the combined stage holds the prune stage's masks (its models)
        if comb["ratio"] not in prune["ratios"]:
            problems.append(
                f"config key 'combined.ratio': {comb['ratio']} is not one of prune.ratios "
                f"{prune['ratios']} (the combined stage takes the prune stage's masks)"
            )
        missing = [s for s in comb["structures"] if s not in prune["structures"]]
        if missing:
            problems.append(
                f"config key 'combined.structures': {missing} not in prune.structures "
                f"{prune['structures']} (the combined stage takes the prune stage's masks)"
            )
    rel, lams = cfg.get("relufied", {}), cfg.get("relufy", {}).get("lams")
    if rel and lams is not None and not any(float(x) == float(rel["lam"]) for x in lams):
        problems.append(
            f"config key 'relufied.lam': {rel['lam']} is not one of relufy.lams {lams} "
            f"(it names the relufied model to read)"
        )
    reuse = cfg.get("reuse", {})
    if reuse and model and reuse["prompt_bytes"] + 2 * max(reuse["gammas"]) > model["block_size"]:
        problems.append(
            f"config key 'reuse.gammas': prompt_bytes + 2 * max gamma "
            f"({reuse['prompt_bytes']} + 2 * {max(reuse['gammas'])}) exceed model.block_size "
            f"({model['block_size']})"
        )
    spec = cfg.get("speculative", {})
    if spec and model and spec["max_gamma"] > model["block_size"]:
        problems.append(
            f"config key 'speculative.max_gamma': {spec['max_gamma']} exceeds "
            f"model.block_size ({model['block_size']})"
        )
    pt = cfg.get("pretrained", {})
    if pt:  # pruning matches a relufied model's FLOPs; stage 2 starts from one
        r = pt["relufy"]
        known = [f"relufy_lam{float(x):g}" for x in r["lams"]]
        known += [f"relufy_{s['name']}" for s in r["schedules"]]
        named = {"prune.match": pt["prune"]["match"] if pt["prune"]["methods"] else None}
        named["rsb.stage1"] = pt["rsb"]["stage1"] if "stage2" in pt["rsb"]["variants"] else None
        for key, variant in named.items():
            if variant is not None and variant not in known:
                problems.append(
                    f"config key 'pretrained.{key}': {variant!r} is not a variant "
                    f"pretrained.relufy makes; known: {known}"
                )
    chosen = pt.get("decode", {}).get("variants") if pt else None
    if chosen and "dense" not in chosen:  # the prompt's tokens and llama.cpp's rows need it
        problems.append(
            f"config key 'pretrained.decode.variants': {chosen} lacks 'dense' (the prompt is "
            f"tokenized by it and llama.cpp is compared on it); add it, or leave the list "
            f"empty for every trained variant"
        )
    pre = cfg.get("preact", {})
    if pre and pre["lo"] >= pre["hi"]:
        problems.append(f"config key 'preact.lo': {pre['lo']} must be below preact.hi")
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))


def layered(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` laid on `base` the way Snakemake lays a --configfile on the Snakefile's own:
    sections merge key by key, anything else (lists included) is replaced. A run config
    such as config/smollm2.yaml holds only what differs from the default, so a script that
    reads it outside Snakemake must layer it the same way or it reads another config."""
    out = dict(base)
    for key, value in over.items():
        below = base.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            out[key] = layered(below, value)
        else:
            out[key] = value
    return out


def config_hash(params: Mapping[str, Any]) -> str:
    """A short, stable digest of the config a stage ran with (key order does not matter)."""
    blob = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
