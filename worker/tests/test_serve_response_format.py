"""`response_format` in the Python serving worker: the JSON recognizer accepts every prefix of valid
JSON objects and refuses invalid text at the first bad character, schema rules (closed keys, required,
integer, enum) hold, the cached token masks equal checking every token one by one, and
`python -m tunekit_worker serve` answers JSON that parses (and fits the schema) from a random model."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
from conftest import worker_environment

from tunekit_worker.json_constraint import START, JsonRecognizer, ResponseRules, UnsupportedSchema, object_rules, token_constraint

ANY_OBJECT = JsonRecognizer(ResponseRules())
SCHEMA = {
    "type": "object",
    "properties": {
        "color": {"enum": ["red", "blue", "green"]},
        "bright": {"type": "boolean"},
        "count": {"type": "integer"},
        "note": {"type": ["string", "null"], "description": "free text"},
    },
    "required": ["color", "bright"],
    "additionalProperties": False,
}


def random_value(generator: random.Random, depth: int = 0):
    kind = generator.choice(["string", "number", "integer", "literal", "object", "array"] if depth < 3 else ["string", "number", "literal"])
    if kind == "string":
        return "".join(generator.choice('ab "\\/\n\té€😀') for _ in range(generator.randint(0, 6)))
    if kind == "number":
        return generator.choice([0.5, -12.25, 1e-7, 3.0e21, -0.0])
    if kind == "integer":
        return generator.randint(-1000, 1000)
    if kind == "literal":
        return generator.choice([True, False, None])
    if kind == "array":
        return [random_value(generator, depth + 1) for _ in range(generator.randint(0, 3))]
    return {f"k{index}{generator.choice(['', 'é', ' '])}": random_value(generator, depth + 1) for index in range(generator.randint(0, 3))}


def documents() -> list[str]:
    generator = random.Random(7)
    texts = []
    for index in range(60):
        value = {f"key{slot}": random_value(generator) for slot in range(generator.randint(0, 4))}
        texts.append(json.dumps(value, ensure_ascii=index % 2 == 0, indent=2 if index % 3 == 0 else None))
    return texts


def test_every_prefix_of_a_valid_object_is_accepted_and_only_the_whole_is_complete():
    for text in documents():
        state = START
        for position, character in enumerate(text):
            state = ANY_OBJECT.step(state, character)
            assert state is not None, f"refused {text[: position + 1]!r}"
            assert ANY_OBJECT.complete(state) == (position == len(text) - 1)


@pytest.mark.parametrize(
    "good, bad",
    [
        ('{"a": 1', "}}"),  # one object, nothing after it
        ('{"a": ', "01"),  # a leading zero is a whole number
        ('{"a": 1', ".}"),  # a fraction needs a digit
        ('{"a": tr', "ee"),
        ('{"a": [1', ",]"),  # no trailing commas
        ('{"a": "x', "\n"),  # raw control characters are not allowed in strings
        ('{"a": "\\', "x"),
        ('{"a": "\\u00', "g"),
        ('{"a"', "1"),
        ("", "["),  # the answer is an object
        ("", " "),  # starting with its `{`
        ('{"a": 1, "a', '"'),  # no duplicate top-level keys
        ('{"a":' + " " * 20, " "),  # whitespace runs are capped
    ],
)
def test_invalid_text_is_refused_at_its_first_bad_character(good, bad):
    state = ANY_OBJECT.advance(START, good)
    assert state is not None
    assert ANY_OBJECT.advance(state, bad) is None


def assert_language(recognizer: JsonRecognizer, accepted: list[str], refused: list[str]) -> None:
    """Every accepted text is a complete answer; every refused text is rejected."""
    for text in accepted:
        state = recognizer.advance(START, text)
        assert state is not None and recognizer.complete(state), text
    for text in refused:
        assert recognizer.advance(START, text) is None, text


def test_schema_rules_hold_for_keys_required_integer_and_enum():
    recognizer = JsonRecognizer(object_rules(SCHEMA))
    accepted = ['{"color": "red", "bright": true}', '{"bright": false, "count": -3, "note": null, "color": "green"}', '{"note": "x", "color": "blue", "bright": true}']
    refused = [
        '{"color": "red"}',  # `bright` is required: the object cannot close
        '{"colour',  # not a property
        '{"color": "yellow',  # not in the enum
        '{"color": "red", "bright": 1',  # boolean
        '{"count": 1.5',  # integer
        '{"count": 1e3',
        '{"note": 3',  # string or null
        '{"color": "red", "color',  # already written
        '{"color": "red", "bright": true, "count": 1, "note": null,',  # every key written: only `}` is left
    ]
    assert_language(recognizer, accepted, refused)


NESTED = {
    "type": "object",
    "properties": {
        "team": {"type": "string"},
        "people": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "role": {"enum": ["dev", "ops"]}, "age": {"type": "integer"}},
                "required": ["name", "role"],
                "additionalProperties": False,
            },
        },
        "meta": {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "boolean"}}}, "required": ["tags"]},
    },
    "required": ["people"],
    "additionalProperties": False,
}


def test_nested_objects_and_array_items_are_enforced_at_every_depth():
    recognizer = JsonRecognizer(object_rules(NESTED))
    accepted = [
        '{"people": []}',
        '{"team": "x", "people": [{"name": "a", "role": "dev"}, {"age": 3, "role": "ops", "name": "b"}]}',
        '{"people": [], "meta": {"tags": [true, false], "other": {"any": [1]}}}',
    ]
    refused = [
        '{"people": [{"name": "a"}',  # `role` is required in every item: the item cannot close
        '{"people": [{"nick',  # items have closed keys
        '{"people": [{"name": "a", "role": "qa',  # enum inside an item
        '{"people": [{"name": "a", "role": "dev", "age": 1.5',  # integer inside an item
        '{"people": {',  # an array
        '{"people": [1',  # items are objects
        '{"people": [], "meta": {}',  # `meta` requires `tags`
        '{"people": [], "meta": {"tags": [1',  # booleans
        '{"people": [], "extra',  # the top level is closed
    ]
    assert_language(recognizer, accepted, refused)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array", "items": {"type": "string"}},
        {"type": "object", "properties": {"name": {"type": "string", "minLength": 2}}},
        {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}, "minItems": 1}}},
        {"type": "object", "properties": {"pair": {"type": "array", "items": [{"type": "string"}, {"type": "number"}]}}},
        {"type": "object", "properties": {"node": {"$ref": "#/$defs/node"}}, "$defs": {"node": {"type": "object"}}},
        {"type": "object", "properties": {"inner": {"type": "object", "properties": {"x": {"const": 1}}}}},
        {"type": "object", "properties": {"n": {"enum": [1, 2]}}},
        {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "number"}]}}},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "object", "properties": {}, "required": ["missing"], "additionalProperties": False},
    ],
)
def test_schemas_outside_the_enforced_subset_are_refused_not_enforced_partly(schema):
    with pytest.raises(UnsupportedSchema):
        object_rules(schema)


def test_cached_token_masks_equal_checking_every_token(tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    cases = (
        (ResponseRules(), documents()[4]),
        (object_rules(SCHEMA), '{"note": "a\\"b", "color": "blue", "count": 12, "bright": true}'),
        (object_rules(NESTED), '{"people": [{"role": "dev", "name": "x\\u00e9"}], "meta": {"tags": [true], "k": null}}'),
    )
    for rules, text in cases:
        constraint = token_constraint(tokenizer, [end], rules, len(tokenizer))
        recognizer = constraint.recognizer
        state = START
        checked = 0
        for position in range(len(text) + 1):
            if position:
                state = recognizer.step(state, text[position - 1])
            assert state is not None
            expected = [token for token in range(len(tokenizer)) if constraint.allows(state, token)]
            assert sorted(constraint.allowed(state)) == expected, text[:position]
            checked += len(expected) > 0
        assert checked == len(text) + 1  # every state on the way has a way on (the end token at the end)
        assert constraint.allowed(state) == [end]


def serve(requests: list[dict]) -> dict[str, dict]:
    completed = subprocess.run(
        [sys.executable, "-m", "tunekit_worker", "serve"],
        input="".join(json.dumps(request) + "\n" for request in requests),
        capture_output=True,
        text=True,
        timeout=300,
        env=worker_environment(),
    )
    answers: dict[str, dict] = {}
    for line in completed.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "text":
            answers.setdefault(message["id"], {"pieces": []})["pieces"].append(message["text"])
        else:
            answers.setdefault(message["id"], {"pieces": []}).update(message)
    return answers


def generate_request(request_id: str, model, response_format: dict, temperature: float, seed: int, max_tokens: int = 150) -> dict:
    messages = [{"role": "user", "content": "What color is the sky?"}]
    return {
        "type": "generate",
        "id": request_id,
        "model": str(model),
        "adapter": None,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "top_p": 0.95,
        "seed": seed,
        "stop": [],
        "response_format": response_format,
    }


def test_serve_answers_json_that_parses_and_fits_the_schema_even_from_random_weights(tiny_model):
    # closed keys, enum, booleans and whitespace caps bound the answer: a random model must finish it
    bounded = {
        "type": "object",
        "properties": {"color": {"enum": ["red", "blue", "green"]}, "bright": {"type": "boolean"}},
        "required": ["color", "bright"],
        "additionalProperties": False,
    }
    requests = [generate_request(f"schema-{seed}", tiny_model, {"type": "json_schema", "name": "c", "schema": bounded}, 0.0 if seed == 0 else 1.0, seed) for seed in range(4)]
    requests += [generate_request(f"object-{seed}", tiny_model, {"type": "json_object"}, 1.0, seed, max_tokens=60) for seed in range(3)]
    requests.append(generate_request("unsupported", tiny_model, {"type": "json_schema", "name": "a", "schema": {"type": "array"}}, 0.0, 0))
    answers = serve(requests)
    for seed in range(4):
        answer = answers[f"schema-{seed}"]
        assert answer["type"] == "done" and answer["finish_reason"] == "stop", answer
        assert "".join(answer["pieces"]) == answer["text"]
        value = json.loads(answer["text"])
        assert set(value) == {"color", "bright"} and value["color"] in ("red", "blue", "green") and isinstance(value["bright"], bool)
    for seed in range(3):
        answer = answers[f"object-{seed}"]
        assert answer["text"].startswith("{")
        if answer["finish_reason"] == "stop":
            assert isinstance(json.loads(answer["text"]), dict)
        else:  # random weights may still be inside a string at max_tokens, as OpenAI's JSON mode can be
            assert answer["completion_tokens"] == 60 and ANY_OBJECT.advance(START, answer["text"]) is not None
    error = answers["unsupported"]
    assert error["type"] == "error" and error["code"] == "unsupported_response_format" and error["field"] == "response_format"
    assert "llama-cpp" in error["message"] and "`object`" in error["message"]
