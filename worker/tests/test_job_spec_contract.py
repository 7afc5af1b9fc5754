"""The worker's job spec (job_spec.py) has the defaults and bounds of the TypeScript one.

The zod schema in src/core/worker-job-spec.ts (built from the run-config schema, src/core/config-schema.ts)
is the source; its JSON Schema is committed at tunekit_worker/schemas/job-spec.v1.schema.json
(scripts/generate-worker-schemas.mjs writes it, test/worker-contract.test.ts fails while it is
stale). Field by field, this test checks that the Python dataclasses hold the same fields with the
same defaults, and that `parse_job_spec` accepts exactly the values the schema accepts at every
bound (minimum, exclusive minimum, maximum, integer-ness, `auto`, null, enum members).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import WORKER_ROOT

from tunekit_worker.errors import BadConfig
from tunekit_worker.job_spec import DataSpec, JobSpec, LoraSpec, TrainingSpec, parse_job_spec

SCHEMA = json.loads((WORKER_ROOT / "tunekit_worker" / "schemas" / "job-spec.v1.schema.json").read_text())
SAFE_INTEGER = 2**53 - 1  # zod writes this bound for every int(); it means "no bound"
SECTIONS = {
    "": (SCHEMA, JobSpec),
    "data": (SCHEMA["properties"]["data"], DataSpec),
    "training": (SCHEMA["properties"]["training"], TrainingSpec),
    "training.lora": (SCHEMA["properties"]["training"]["properties"]["lora"], LoraSpec),
}


def minimal_spec() -> dict[str, Any]:
    """Only what the schema requires."""
    return {"v": 1, "run_dir": "/tmp/tunekit-contract-run", "model": "org/model", "data": {"train": "/tmp/train.jsonl"}, "training": {"epochs": 1}}


def with_value(path: str, value: Any) -> dict[str, Any]:
    spec = minimal_spec()
    *parents, name = path.split(".")
    record = spec
    for parent in parents:
        record = record.setdefault(parent, {})
    record[name] = copy.deepcopy(value)
    return spec


def range_problem(path: str, value: Any) -> str | None:
    """The worker's type/range problem for `path` = `value`, or None when it accepts the value
    (problems of another kind, such as `qlora` on a machine without CUDA, do not count)."""
    try:
        parse_job_spec(with_value(path, value), check_files=False, cuda_available=False)
    except BadConfig as error:
        marker = f"`{path}`: must be"
        if marker in error.message:
            return error.message
    return None


def fields() -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(dotted path, JSON Schema of the field, required) for every leaf field of the spec."""
    for prefix, (section, _) in SECTIONS.items():
        for name, field_schema in section["properties"].items():
            path = f"{prefix}.{name}" if prefix else name
            if path in SECTIONS:
                continue
            yield path, field_schema, name in section.get("required", [])


FIELDS = list(fields())


def python_default(path: str) -> Any:
    parsed = parse_job_spec(minimal_spec(), check_files=False, cuda_available=False).to_dict()
    for part in path.split("."):
        parsed = parsed[part]
    return parsed


def variants(field_schema: dict[str, Any]) -> list[dict[str, Any]]:
    return field_schema.get("anyOf", [field_schema])


def types_of(field_schema: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for variant in variants(field_schema):
        kind = variant.get("type")
        found.update(kind if isinstance(kind, list) else [kind] if kind else [])
    return found


@pytest.mark.parametrize("prefix", list(SECTIONS))
def test_the_same_fields_on_both_sides(prefix: str) -> None:
    section, dataclass = SECTIONS[prefix]
    assert {field.name for field in dataclasses.fields(dataclass)} == set(section["properties"])


@pytest.mark.parametrize(("path", "field_schema", "required"), FIELDS, ids=[path for path, _, _ in FIELDS])
def test_defaults_are_the_typescript_defaults(path: str, field_schema: dict[str, Any], required: bool) -> None:
    if required:
        with pytest.raises(BadConfig, match=f"`{path}`"):
            spec = minimal_spec()
            *parents, name = path.split(".")
            record = spec
            for parent in parents:
                record = record[parent]
            del record[name]
            parse_job_spec(spec, check_files=False, cuda_available=False)
        return
    assert "default" in field_schema, f"{path} has neither a default nor `required` in the TypeScript schema"
    assert python_default(path) == field_schema["default"], path


def numeric_probes(field_schema: dict[str, Any]) -> list[tuple[Any, bool]]:
    """(value, the schema accepts it) at each bound of the field's numeric variant."""
    probes: list[tuple[Any, bool]] = []
    for variant in variants(field_schema):
        if variant.get("type") not in ("integer", "number"):
            continue
        integer = variant["type"] == "integer"
        step = 1 if integer else 1e-9
        if "minimum" in variant and abs(variant["minimum"]) < SAFE_INTEGER:
            low = variant["minimum"]
            probes += [(low, True), (low - step, False)]
        elif "exclusiveMinimum" in variant:
            low = variant["exclusiveMinimum"]
            probes += [(low, False), (low + step, True)]
        else:
            low = None
        if "maximum" in variant and abs(variant["maximum"]) < SAFE_INTEGER:
            high = variant["maximum"]
            probes += [(high, True), (high + step * max(1, abs(high)) if not integer else high + 1, False)]
        else:
            probes.append((10**12 if integer else 1e12, True))  # no upper bound
        if integer:
            inside = (low + 1) if low is not None else 1
            probes += [(inside + 0.5, False), (float(inside), True)]  # 3.0 is an integer, 3.5 is not
    return probes


NUMERIC = [(path, schema) for path, schema, _ in FIELDS if types_of(schema) & {"integer", "number"}]


@pytest.mark.parametrize(("path", "field_schema"), NUMERIC, ids=[path for path, _ in NUMERIC])
def test_numeric_bounds_are_the_typescript_bounds(path: str, field_schema: dict[str, Any]) -> None:
    probes = numeric_probes(field_schema)
    assert probes, path
    for value, accepted in probes:
        problem = range_problem(path, value)
        assert (problem is None) == accepted, f"{path} = {value!r}: TypeScript {'accepts' if accepted else 'refuses'} it, the worker says {problem or 'fine'}"


@pytest.mark.parametrize(("path", "field_schema", "required"), FIELDS, ids=[path for path, _, _ in FIELDS])
def test_auto_null_enums_and_kinds_match(path: str, field_schema: dict[str, Any], required: bool) -> None:
    if path == "v":
        assert field_schema["const"] == 1
        assert range_problem(path, 1) is None
        return
    accepts_auto = any(variant.get("const") == "auto" for variant in variants(field_schema))
    kinds = types_of(field_schema)
    if "string" not in kinds or accepts_auto:
        assert (range_problem(path, "auto") is None) == accepts_auto, f"{path}: `auto`"
    assert (range_problem(path, None) is None) == ("null" in kinds), f"{path}: null"
    for variant in variants(field_schema):
        for member in variant.get("enum", []):
            assert range_problem(path, member) is None, f"{path}: {member}"
        if "enum" in variant:
            assert range_problem(path, "not-a-choice") is not None, f"{path}: a value outside the enum"
    if kinds == {"boolean"}:
        assert range_problem(path, True) is None and range_problem(path, False) is None
        assert range_problem(path, "yes") is not None
    if "array" in kinds:  # lora.target_modules: a non-empty list of non-empty names
        assert range_problem(path, ["q_proj"]) is None
        assert range_problem(path, []) is not None and range_problem(path, [""]) is not None
