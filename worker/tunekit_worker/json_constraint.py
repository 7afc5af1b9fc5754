"""Constrained decoding for OpenAI's `response_format` in the Python serving worker.

A character-level JSON recognizer checks, token by token, that the text generated so far is a prefix
of a valid JSON object; the sampler only picks tokens that keep it one, and the end-of-turn token
only once the object is closed (then nothing else). This is how llama.cpp's JSON grammar and
outlines work, here in plain Python over the tokenizer's token texts.

- `{"type": "json_object"}`: any JSON object (OpenAI's JSON mode), whitespace runs capped.
- `{"type": "json_schema"}`: a top-level object schema, enforced fully for the subset below, and
  refused (error field `response_format`) for anything else rather than enforced partly:
  `properties` (names as the only keys when `additionalProperties` is false), `required` (the object
  cannot close before every required key is present), and per property `type` (string, number,
  integer, boolean, null, object, array, or a list of them; object/array values are any JSON of that
  kind), string `enum`, `description`/`title`/`default` annotations.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

WHITESPACE = " \t\n\r"
MAX_WHITESPACE_RUN = 20  # llama.cpp's json.gbnf caps indentation the same way
HEX = "0123456789abcdefABCDEF"
DIGITS = "0123456789"
ESCAPES = '"\\/bfnrt'
TYPE_STARTS = {"string": '"', "number": "-" + DIGITS, "integer": "-" + DIGITS, "boolean": "tf", "null": "n", "object": "{", "array": "["}
ANNOTATIONS = {"description", "title", "default", "examples", "$comment"}

# modes
VALUE, OBJECT_FIRST, OBJECT_KEY, COLON, AFTER_VALUE, ARRAY_FIRST, STRING, ESCAPE, UNICODE, NUMBER, LITERAL, DONE = range(12)
# number sub-states: after '-', after a leading 0, in integer digits, after '.', in fraction, after 'e', after exponent sign, in exponent
MINUS, ZERO, INTEGER, DOT, FRACTION, EXPONENT_MARK, EXPONENT_SIGN, EXPONENT = range(8)
NUMBER_ENDS = {ZERO, INTEGER, FRACTION, EXPONENT}


class UnsupportedSchema(ValueError):
    """The schema uses JSON Schema this recognizer does not enforce."""


@dataclass(frozen=True)
class ValueRule:
    """What the value of one top-level property may be."""

    starts: str | None = None  # the characters it may start with; None: any JSON value
    integer: bool = False
    enum: tuple[str, ...] | None = None  # string values it must be one of


@dataclass(frozen=True)
class ObjectRules:
    """The top-level object: allowed keys (None: any), required keys, value rules per key."""

    keys: frozenset[str] | None = None
    required: frozenset[str] = frozenset()
    values: dict[str, ValueRule] = field(default_factory=dict)


def _plain_name(text: str, what: str) -> str:
    if any(character in text for character in '"\\') or any(ord(character) < 0x20 for character in text):
        raise UnsupportedSchema(f"{what} `{text}` has a quote, backslash or control character")
    return text


def _value_rule(name: str, schema: Any) -> ValueRule:
    if not isinstance(schema, dict):
        raise UnsupportedSchema(f"property `{name}` is not a schema object")
    unknown = set(schema) - ANNOTATIONS - {"type", "enum"}
    if unknown:
        raise UnsupportedSchema(f"property `{name}` uses {sorted(unknown)}")
    enum = schema.get("enum")
    if enum is not None:
        if not isinstance(enum, list) or not enum or not all(isinstance(value, str) for value in enum):
            raise UnsupportedSchema(f"property `{name}` has an `enum` that is not a list of strings")
        if schema.get("type", "string") != "string":
            raise UnsupportedSchema(f"property `{name}` has an `enum` with type `{schema.get('type')}`")
        return ValueRule(starts='"', enum=tuple(_plain_name(value, "enum value") for value in enum))
    kinds = schema.get("type")
    if kinds is None:
        return ValueRule()
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if not isinstance(kinds, list) or not kinds or any(kind not in TYPE_STARTS for kind in kinds):
        raise UnsupportedSchema(f"property `{name}` has type {kinds!r}")
    starts = "".join(sorted(set("".join(TYPE_STARTS[kind] for kind in kinds))))
    return ValueRule(starts=starts, integer="integer" in kinds and "number" not in kinds)


def object_rules(schema: Any) -> ObjectRules:
    """The rules of a `json_schema` response format's schema (UnsupportedSchema when outside the subset)."""
    if not isinstance(schema, dict):
        raise UnsupportedSchema("the schema is not an object")
    unknown = set(schema) - ANNOTATIONS - {"type", "properties", "required", "additionalProperties", "$schema", "strict"}
    if unknown:
        raise UnsupportedSchema(f"the schema uses {sorted(unknown)}")
    if schema.get("type", "object") != "object":
        raise UnsupportedSchema(f"the top-level type is `{schema.get('type')}`; only `object` is supported")
    properties = schema.get("properties") or {}
    if not isinstance(properties, dict):
        raise UnsupportedSchema("`properties` is not an object")
    required = schema.get("required") or []
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        raise UnsupportedSchema("`required` is not a list of names")
    additional = schema.get("additionalProperties", True)
    if not isinstance(additional, bool):
        raise UnsupportedSchema("`additionalProperties` is a schema; only true or false is supported")
    values = {_plain_name(name, "property name"): _value_rule(name, value) for name, value in properties.items()}
    if not additional and set(required) - set(values):
        raise UnsupportedSchema(f"required keys {sorted(set(required) - set(values))} are not in `properties`")
    return ObjectRules(keys=frozenset(values) if not additional else None, required=frozenset(_plain_name(name, "required key") for name in required), values=values)


def rules_of(response_format: Any) -> ObjectRules | None:
    """None for text (or no response_format); rules for json_object and json_schema."""
    if not response_format or response_format.get("type", "text") == "text":
        return None
    if response_format["type"] == "json_object":
        return ObjectRules()
    if response_format["type"] == "json_schema":
        return object_rules(response_format.get("schema") or {})
    raise UnsupportedSchema(f"unknown response_format type `{response_format['type']}`")


# A state is a hashable tuple, so that allowed-token masks can be cached by it:
# (mode, stack, sub, buffer, spaces, seen, key)
#   stack: "o"/"a" per open container, outermost first
#   sub: number sub-state, literal remainder, unicode digits left, or "k"/"v" (string is a key or a value)
#   buffer: the top-level key or enum string read so far; seen: top-level keys so far; key: the top-level key whose value is read
State = tuple[int, str, Any, str, int, frozenset, str | None]
START: State = (VALUE, "", None, "", 0, frozenset(), None)


class JsonRecognizer:
    """Feeds text to a state; `advance` returns None when the text cannot continue a valid answer."""

    def __init__(self, rules: ObjectRules):
        self.rules = rules

    def advance(self, state: State | None, text: str) -> State | None:
        for character in text:
            if state is None:
                return None
            state = self.step(state, character)
        return state

    @staticmethod
    def complete(state: State) -> bool:
        return state[0] == DONE

    def _top_value_rule(self, stack: str, key: str | None) -> ValueRule | None:
        if stack == "o" and key is not None:
            return self.rules.values.get(key)
        return None

    def step(self, state: State, character: str) -> State | None:
        mode, stack, sub, buffer, spaces, seen, key = state
        if mode == STRING:
            return self._string(state, character)
        if mode == ESCAPE:
            if character == "u":
                return (UNICODE, stack, (sub, 4), buffer, 0, seen, key)
            return (STRING, stack, sub, buffer, 0, seen, key) if character in ESCAPES else None
        if mode == UNICODE:
            kind, left = sub
            if character not in HEX:
                return None
            return (STRING, stack, kind, buffer, 0, seen, key) if left == 1 else (UNICODE, stack, (kind, left - 1), buffer, 0, seen, key)
        if mode == NUMBER:
            return self._number(state, character)
        if mode == LITERAL:
            if character != sub[0]:
                return None
            return (LITERAL, stack, sub[1:], "", 0, seen, key) if len(sub) > 1 else self._value_done(stack, seen, key)
        if mode == DONE:
            return None
        if character in WHITESPACE:
            if stack == "" and mode == VALUE:
                return None  # the answer starts with its `{`
            return (mode, stack, sub, buffer, spaces + 1, seen, key) if spaces < MAX_WHITESPACE_RUN else None
        if mode == VALUE or (mode == ARRAY_FIRST and character != "]"):
            return self._value_start(stack, seen, key, character)
        if mode == ARRAY_FIRST:
            return self._close(stack, seen)
        if mode == OBJECT_FIRST and character == "}":
            return self._close(stack, seen)
        if mode in (OBJECT_FIRST, OBJECT_KEY):
            return (STRING, stack, "k", "", 0, seen, None) if character == '"' and not self._keys_exhausted(stack, seen) else None
        if mode == COLON:
            return (VALUE, stack, None, "", 0, seen, key) if character == ":" else None
        if mode == AFTER_VALUE:
            inner = stack[-1]
            if character == ",":
                if self._keys_exhausted(stack, seen):
                    return None  # every allowed key is written: the object can only close
                return (OBJECT_KEY if inner == "o" else VALUE, stack, None, "", 0, seen, None)
            if (character == "}" and inner == "o") or (character == "]" and inner == "a"):
                return self._close(stack, seen)
        return None

    def _keys_exhausted(self, stack: str, seen: frozenset) -> bool:
        return stack == "o" and self.rules.keys is not None and self.rules.keys <= seen

    def _value_start(self, stack: str, seen: frozenset, key: str | None, character: str) -> State | None:
        if stack == "" and character != "{":
            return None  # the answer is one object
        rule = self._top_value_rule(stack, key)
        if rule is not None and rule.starts is not None and character not in rule.starts:
            return None
        if character == "{":
            return (OBJECT_FIRST, stack + "o", None, "", 0, seen, key)
        if character == "[":
            return (ARRAY_FIRST, stack + "a", None, "", 0, seen, key)
        if character == '"':
            return (STRING, stack, "v", "", 0, seen, key)
        if character == "-":
            return (NUMBER, stack, MINUS, "", 0, seen, key)
        if character in DIGITS:
            return (NUMBER, stack, ZERO if character == "0" else INTEGER, "", 0, seen, key)
        literal = {"t": "rue", "f": "alse", "n": "ull"}.get(character)
        return (LITERAL, stack, literal, "", 0, seen, key) if literal else None

    def _close(self, stack: str, seen: frozenset) -> State | None:
        if stack == "o" and not self.rules.required <= seen:
            return None  # a required key is missing
        rest = stack[:-1]
        if rest == "":
            return (DONE, "", None, "", 0, seen, None)
        return (AFTER_VALUE, rest, None, "", 0, seen, None)

    def _value_done(self, stack: str, seen: frozenset, key: str | None) -> State:
        return (AFTER_VALUE, stack, None, "", 0, seen, key)

    def tracking(self, state: State) -> tuple[bool, bool]:
        """(tracked, constrained) for a string state: a top-level key is read into the buffer (to refuse
        duplicates); a key from a closed set or an enum value is also checked character by character."""
        _, stack, sub, _, _, _, key = state
        if stack != "o":
            return False, False
        if sub == "k":
            return True, self.rules.keys is not None
        rule = self._top_value_rule(stack, key)
        constrained = rule is not None and rule.enum is not None
        return constrained, constrained

    def _string(self, state: State, character: str) -> State | None:
        mode, stack, sub, buffer, spaces, seen, key = state
        tracked, constrained = self.tracking(state)
        if character == '"':
            if sub == "k":
                if stack == "o":
                    if buffer in seen or (self.rules.keys is not None and buffer not in self.rules.keys):
                        return None
                    return (COLON, stack, None, "", 0, seen | {buffer}, buffer)
                return (COLON, stack, None, "", 0, seen, key)
            if constrained and buffer not in self._top_value_rule(stack, key).enum:  # type: ignore[union-attr]
                return None
            return self._value_done(stack, seen, key)
        if character == "\\":
            return None if constrained else (ESCAPE, stack, sub, buffer, 0, seen, key)
        if ord(character) < 0x20:
            return None
        if not tracked:
            return state
        grown = buffer + character
        if constrained:
            # a key already written would be a dead end: only the keys still to come
            choices = self.rules.keys - seen if sub == "k" else self._top_value_rule(stack, key).enum  # type: ignore[union-attr,operator]
            if not any(choice.startswith(grown) for choice in choices):  # type: ignore[union-attr]
                return None
        return (STRING, stack, sub, grown, 0, seen, key)

    def _number(self, state: State, character: str) -> State | None:
        mode, stack, sub, buffer, spaces, seen, key = state
        rule = self._top_value_rule(stack, key)
        integer = rule is not None and rule.integer
        following = None
        if character in DIGITS:
            following = {MINUS: ZERO if character == "0" else INTEGER, INTEGER: INTEGER, DOT: FRACTION, FRACTION: FRACTION, EXPONENT_MARK: EXPONENT, EXPONENT_SIGN: EXPONENT, EXPONENT: EXPONENT}.get(sub)
        elif character == "." and sub in (ZERO, INTEGER) and not integer:
            following = DOT
        elif character in "eE" and sub in (ZERO, INTEGER, FRACTION) and not integer:
            following = EXPONENT_MARK
        elif character in "+-" and sub == EXPONENT_MARK:
            following = EXPONENT_SIGN
        if following is not None:
            return (NUMBER, stack, following, "", 0, seen, key)
        if sub not in NUMBER_ENDS:
            return None
        return self.step(self._value_done(stack, seen, key), character)


class TokenConstraint:
    """Which token ids may come next, for one tokenizer and one set of rules (masks cached by state)."""

    def __init__(self, texts: list[str], blocked: set[int], end_ids: list[int], rules: ObjectRules):
        self.recognizer = JsonRecognizer(rules)
        self.texts = texts
        self.end_ids = end_ids
        self.blocked = blocked | set(end_ids)
        self.plain = [index for index, text in enumerate(texts) if text and index not in self.blocked and not any(character in '"\\' or ord(character) < 0x20 for character in text)]
        self.plain_set = set(self.plain)
        self.by_first: dict[str, list[int]] = {}
        for index, text in enumerate(texts):
            if text and index not in self.blocked:
                self.by_first.setdefault(text[0], []).append(index)
        self._masks: dict[State, list[int]] = {}

    def allows(self, state: State, token: int, banned: frozenset[int] = frozenset()) -> bool:
        if token in banned:
            return False
        if token in self.end_ids:
            return self.recognizer.complete(state)
        if token in self.blocked or not self.texts[token]:
            return False
        return self.recognizer.advance(state, self.texts[token]) is not None

    def allowed(self, state: State) -> list[int]:
        """Every token id that keeps the answer valid after `state` (end-of-turn ids once complete)."""
        cached = self._masks.get(state)
        if cached is not None:
            return cached
        if self.recognizer.complete(state):
            result = list(self.end_ids)
        else:
            result = []
            # inside a string that no key set or enum constrains, a token without quote, backslash or
            # control characters only appends text: valid without walking it
            free_string = state[0] == STRING and not self.recognizer.tracking(state)[1]
            for first, tokens in self.by_first.items():
                after_first = self.recognizer.step(state, first)
                if after_first is None:
                    continue
                for token in tokens:
                    if free_string and token in self.plain_set:
                        result.append(token)
                    elif self.recognizer.advance(after_first, self.texts[token][1:]) is not None:
                        result.append(token)
        if len(self._masks) > 4096:
            self._masks.clear()
        self._masks[state] = result
        return result


_texts_by_tokenizer: "weakref.WeakKeyDictionary[Any, list[str]]" = weakref.WeakKeyDictionary()


def token_texts(tokenizer: Any) -> list[str]:
    """The text each token id adds, once per tokenizer (special tokens: '')."""
    texts = _texts_by_tokenizer.get(tokenizer)
    if texts is None:
        size = len(tokenizer)
        texts = tokenizer.batch_decode([[index] for index in range(size)], skip_special_tokens=True)
        _texts_by_tokenizer[tokenizer] = texts
    return texts


def token_constraint(tokenizer: Any, end_ids: list[int], rules: ObjectRules, vocabulary_size: int) -> TokenConstraint:
    texts = token_texts(tokenizer)
    texts = texts + [""] * max(0, vocabulary_size - len(texts))  # embedding rows past the tokenizer never decode
    blocked = set(tokenizer.all_special_ids) | {index for index, added in tokenizer.added_tokens_decoder.items() if added.special}
    return TokenConstraint(texts, blocked, [index for index in end_ids if index < len(texts)], rules)
