"""Constrained decoding for OpenAI's `response_format` in the Python serving worker.

A character-level JSON recognizer checks, token by token, that the text generated so far is a prefix
of a valid JSON object; the sampler only picks tokens that keep it one, and the end-of-turn token
only once the object is closed (then nothing else). This is how llama.cpp's JSON grammar and
outlines work, here in plain Python over the tokenizer's token texts.

- `{"type": "json_object"}`: any JSON object (OpenAI's JSON mode), whitespace runs capped.
- `{"type": "json_schema"}`: an object schema, enforced fully for the subset below at every depth,
  and refused (error field `response_format`) for anything else rather than enforced partly:
  `type` (string, number, integer, boolean, null, object, array, or a list of them), string `enum`,
  `properties` (the only keys when `additionalProperties` is false), `required` (an object cannot
  close before its required keys are written), `items` (one schema for every array item),
  `description`/`title`/`default`/`examples` annotations.
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
OBJECT_KEYWORDS = {"properties", "required", "additionalProperties"}

# modes
VALUE, OBJECT_FIRST, OBJECT_KEY, COLON, AFTER_VALUE, ARRAY_FIRST, STRING, ESCAPE, UNICODE, NUMBER, LITERAL, DONE = range(12)
# number sub-states: after '-', after a leading 0, in integer digits, after '.', in fraction, after 'e', after exponent sign, in exponent
MINUS, ZERO, INTEGER, DOT, FRACTION, EXPONENT_MARK, EXPONENT_SIGN, EXPONENT = range(8)
NUMBER_ENDS = {ZERO, INTEGER, FRACTION, EXPONENT}
ANY = -1  # the rule index of "any JSON value"


class UnsupportedSchema(ValueError):
    """The schema uses JSON Schema this recognizer does not enforce."""


@dataclass(frozen=True)
class Rule:
    """What one value may be. Rules point at each other by index into `ResponseRules.rules`."""

    starts: str | None = None  # the characters it may start with; None: any JSON value
    integer: bool = False
    enum: tuple[str, ...] | None = None  # string values it must be one of
    keys: frozenset[str] | None = None  # object: the only keys allowed (None: any)
    required: frozenset[str] = frozenset()
    properties: dict[str, int] = field(default_factory=dict)  # object: key -> rule index (others: ANY)
    items: int = ANY  # array: the rule index of every item


ANY_RULE = Rule()


@dataclass(frozen=True)
class ResponseRules:
    """Compiled rules; index 0 is the answer itself (always an object, as OpenAI's JSON modes)."""

    rules: tuple[Rule, ...] = (Rule(starts="{"),)


def _plain_name(text: str, what: str) -> str:
    if any(character in text for character in '"\\') or any(ord(character) < 0x20 for character in text):
        raise UnsupportedSchema(f"{what} `{text}` has a quote, backslash or control character")
    return text


def _compile(schema: Any, rules: list[Rule | None], where: str) -> int:
    """Append the rule of `schema` (and of its parts) to `rules`; its index, or ANY for `{}`."""
    if schema is True or schema == {}:
        return ANY
    if not isinstance(schema, dict):
        raise UnsupportedSchema(f"{where} is not a schema object")
    unknown = set(schema) - ANNOTATIONS - OBJECT_KEYWORDS - {"type", "enum", "items", "$schema"}
    if unknown:
        raise UnsupportedSchema(f"{where} uses {sorted(unknown)}")
    if "enum" in schema:
        enum = schema["enum"]
        if not isinstance(enum, list) or not enum or not all(isinstance(value, str) for value in enum):
            raise UnsupportedSchema(f"{where} has an `enum` that is not a list of strings")
        if schema.get("type", "string") != "string":
            raise UnsupportedSchema(f"{where} has an `enum` with type `{schema.get('type')}`")
        rules.append(Rule(starts='"', enum=tuple(_plain_name(value, "enum value") for value in enum)))
        return len(rules) - 1
    kinds = schema.get("type")
    if kinds is None:
        kinds = ["object"] if OBJECT_KEYWORDS & set(schema) else ["array"] if "items" in schema else None
    if kinds is None:
        return ANY  # annotations only
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if not isinstance(kinds, list) or not kinds or any(kind not in TYPE_STARTS for kind in kinds):
        raise UnsupportedSchema(f"{where} has type {kinds!r}")
    if OBJECT_KEYWORDS & set(schema) and "object" not in kinds:
        raise UnsupportedSchema(f"{where} has object keywords but type {kinds!r}")
    if "items" in schema and "array" not in kinds:
        raise UnsupportedSchema(f"{where} has `items` but type {kinds!r}")
    index = len(rules)
    rules.append(None)  # children come after their parent
    keys, required, properties = None, frozenset(), {}
    if "object" in kinds:
        given = schema.get("properties") or {}
        if not isinstance(given, dict):
            raise UnsupportedSchema(f"{where}.properties is not an object")
        properties = {_plain_name(name, "property name"): _compile(value, rules, f"{where}.properties.{name}") for name, value in given.items()}
        names = schema.get("required") or []
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise UnsupportedSchema(f"{where}.required is not a list of names")
        required = frozenset(_plain_name(name, "required key") for name in names)
        additional = schema.get("additionalProperties", True)
        if not isinstance(additional, bool):
            raise UnsupportedSchema(f"{where}.additionalProperties is a schema; only true or false is supported")
        if not additional:
            keys = frozenset(properties)
            if required - keys:
                raise UnsupportedSchema(f"{where} requires {sorted(required - keys)}, which are not in its `properties`")
    items = ANY
    if "array" in kinds and "items" in schema:
        if isinstance(schema["items"], list):
            raise UnsupportedSchema(f"{where}.items is a list (tuple validation)")
        items = _compile(schema["items"], rules, f"{where}.items")
    starts = "".join(sorted(set("".join(TYPE_STARTS[kind] for kind in kinds))))
    rules[index] = Rule(starts=starts, integer="integer" in kinds and "number" not in kinds, keys=keys, required=required, properties=properties, items=items)
    return index


def object_rules(schema: Any) -> ResponseRules:
    """The rules of a `json_schema` response format's schema (UnsupportedSchema when outside the subset)."""
    if isinstance(schema, dict) and schema.get("type", "object") != "object":
        raise UnsupportedSchema(f"the top-level type is `{schema.get('type')}`; only `object` is supported")
    rules: list[Rule | None] = []
    root = _compile(schema if schema != {} else {"type": "object"}, rules, "the schema")
    if root != 0 or rules[0] is None or rules[0].starts != "{":
        raise UnsupportedSchema("the top-level schema is not an object")
    return ResponseRules(tuple(rule for rule in rules if rule is not None))


def rules_of(response_format: Any) -> ResponseRules | None:
    """None for text (or no response_format); rules for json_object and json_schema."""
    if not response_format or response_format.get("type", "text") == "text":
        return None
    if response_format["type"] == "json_object":
        return ResponseRules()
    if response_format["type"] == "json_schema":
        return object_rules(response_format.get("schema") or {})
    raise UnsupportedSchema(f"unknown response_format type `{response_format['type']}`")


# A state is a hashable tuple, so that allowed-token masks can be cached by it:
# (mode, stack, sub, buffer, spaces)
#   stack: one frame per open container, outermost first: ("o", rule index, keys written, current key) or ("a", rule index, frozenset(), None)
#   sub: number sub-state, literal remainder, (string kind, hex digits left), or "k"/"v" (the string is a key or a value)
#   buffer: the key or enum string read so far
Frame = tuple[str, int, frozenset, Any]
State = tuple[int, tuple[Frame, ...], Any, str, int]
START: State = (VALUE, (), None, "", 0)


class JsonRecognizer:
    """Feeds text to a state; `advance` returns None when the text cannot continue a valid answer."""

    def __init__(self, rules: ResponseRules):
        self.rules = rules.rules

    def advance(self, state: State | None, text: str) -> State | None:
        for character in text:
            if state is None:
                return None
            state = self.step(state, character)
        return state

    @staticmethod
    def complete(state: State) -> bool:
        return state[0] == DONE

    def rule(self, index: int) -> Rule:
        return self.rules[index] if index >= 0 else ANY_RULE

    def value_rule(self, stack: tuple[Frame, ...]) -> int:
        """The rule index of the value read now: the answer, an object's property, an array's item."""
        if not stack:
            return 0
        kind, index, _, key = stack[-1]
        container = self.rule(index)
        return container.properties.get(key, ANY) if kind == "o" else container.items

    def tracking(self, state: State) -> tuple[bool, bool]:
        """(tracked, constrained) for a string state: an object key is read into the buffer (to refuse
        duplicates); a key from a closed set or an enum value is also checked character by character."""
        _, stack, sub, _, _ = state
        if sub == "k":
            return True, self.rule(stack[-1][1]).keys is not None
        constrained = self.rule(self.value_rule(stack)).enum is not None
        return constrained, constrained

    def step(self, state: State, character: str) -> State | None:
        mode, stack, sub, buffer, spaces = state
        if mode == STRING:
            return self._string(state, character)
        if mode == ESCAPE:
            if character == "u":
                return (UNICODE, stack, (sub, 4), buffer, 0)
            return (STRING, stack, sub, buffer, 0) if character in ESCAPES else None
        if mode == UNICODE:
            kind, left = sub
            if character not in HEX:
                return None
            return (STRING, stack, kind, buffer, 0) if left == 1 else (UNICODE, stack, (kind, left - 1), buffer, 0)
        if mode == NUMBER:
            return self._number(state, character)
        if mode == LITERAL:
            if character != sub[0]:
                return None
            return (LITERAL, stack, sub[1:], "", 0) if len(sub) > 1 else (AFTER_VALUE, stack, None, "", 0)
        if mode == DONE:
            return None
        if character in WHITESPACE:
            if not stack and mode == VALUE:
                return None  # the answer starts with its `{`
            return (mode, stack, sub, buffer, spaces + 1) if spaces < MAX_WHITESPACE_RUN else None
        if mode == VALUE or (mode == ARRAY_FIRST and character != "]"):
            return self._value_start(stack, character)
        if mode == ARRAY_FIRST or (mode == OBJECT_FIRST and character == "}"):
            return self._close(stack)
        if mode in (OBJECT_FIRST, OBJECT_KEY):
            return (STRING, stack, "k", "", 0) if character == '"' and not self._keys_exhausted(stack[-1]) else None
        if mode == COLON:
            return (VALUE, stack, None, "", 0) if character == ":" else None
        if mode == AFTER_VALUE:
            kind = stack[-1][0]
            if character == ",":
                if kind == "o" and self._keys_exhausted(stack[-1]):
                    return None  # every allowed key is written: the object can only close
                return (OBJECT_KEY if kind == "o" else VALUE, stack, None, "", 0)
            if (character == "}" and kind == "o") or (character == "]" and kind == "a"):
                return self._close(stack)
        return None

    def _keys_exhausted(self, frame: Frame) -> bool:
        keys = self.rule(frame[1]).keys
        return keys is not None and keys <= frame[2]

    def _value_start(self, stack: tuple[Frame, ...], character: str) -> State | None:
        index = self.value_rule(stack)
        rule = self.rule(index)
        if rule.starts is not None and character not in rule.starts:
            return None
        if character == "{":
            return (OBJECT_FIRST, stack + (("o", index, frozenset(), None),), None, "", 0)
        if character == "[":
            return (ARRAY_FIRST, stack + (("a", index, frozenset(), None),), None, "", 0)
        if character == '"':
            return (STRING, stack, "v", "", 0)
        if character == "-":
            return (NUMBER, stack, MINUS, "", 0)
        if character in DIGITS:
            return (NUMBER, stack, ZERO if character == "0" else INTEGER, "", 0)
        literal = {"t": "rue", "f": "alse", "n": "ull"}.get(character)
        return (LITERAL, stack, literal, "", 0) if literal else None

    def _close(self, stack: tuple[Frame, ...]) -> State | None:
        kind, index, seen, _ = stack[-1]
        if kind == "o" and not self.rule(index).required <= seen:
            return None  # a required key is missing
        rest = stack[:-1]
        return (DONE, (), None, "", 0) if not rest else (AFTER_VALUE, rest, None, "", 0)

    def _string(self, state: State, character: str) -> State | None:
        mode, stack, sub, buffer, spaces = state
        tracked, constrained = self.tracking(state)
        if character == '"':
            if sub == "k":
                kind, index, seen, _ = stack[-1]
                keys = self.rule(index).keys
                if buffer in seen or (keys is not None and buffer not in keys):
                    return None
                return (COLON, stack[:-1] + ((kind, index, seen | {buffer}, buffer),), None, "", 0)
            if constrained and buffer not in self.rule(self.value_rule(stack)).enum:  # type: ignore[operator]
                return None
            return (AFTER_VALUE, stack, None, "", 0)
        if character == "\\":
            return None if constrained else (ESCAPE, stack, sub, buffer, 0)
        if ord(character) < 0x20:
            return None
        if not tracked:
            return state
        grown = buffer + character
        if constrained:
            if sub == "k":
                frame = stack[-1]
                choices = self.rule(frame[1]).keys - frame[2]  # type: ignore[operator] # a key already written would be a dead end
            else:
                choices = self.rule(self.value_rule(stack)).enum  # type: ignore[assignment]
            if not any(choice.startswith(grown) for choice in choices):  # type: ignore[union-attr]
                return None
        return (STRING, stack, sub, grown, 0)

    def _number(self, state: State, character: str) -> State | None:
        mode, stack, sub, buffer, spaces = state
        integer = self.rule(self.value_rule(stack)).integer
        following = None
        if character in DIGITS:
            following = {
                MINUS: ZERO if character == "0" else INTEGER,
                INTEGER: INTEGER,
                DOT: FRACTION,
                FRACTION: FRACTION,
                EXPONENT_MARK: EXPONENT,
                EXPONENT_SIGN: EXPONENT,
                EXPONENT: EXPONENT,
            }.get(sub)
        elif character == "." and sub in (ZERO, INTEGER) and not integer:
            following = DOT
        elif character in "eE" and sub in (ZERO, INTEGER, FRACTION) and not integer:
            following = EXPONENT_MARK
        elif character in "+-" and sub == EXPONENT_MARK:
            following = EXPONENT_SIGN
        if following is not None:
            return (NUMBER, stack, following, "", 0)
        if sub not in NUMBER_ENDS:
            return None
        return self.step((AFTER_VALUE, stack, None, "", 0), character)


class TokenConstraint:
    """Which token ids may come next, for one tokenizer and one set of rules (masks cached by state)."""

    def __init__(self, texts: list[str], blocked: set[int], end_ids: list[int], rules: ResponseRules):
        self.recognizer = JsonRecognizer(rules)
        self.texts = texts
        self.end_ids = end_ids
        self.blocked = blocked | set(end_ids)
        self.plain = [
            index for index, text in enumerate(texts) if text and index not in self.blocked and not any(character in '"\\' or ord(character) < 0x20 for character in text)
        ]
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


_texts_by_tokenizer: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()


def token_texts(tokenizer: Any) -> list[str]:
    """The text each token id adds, once per tokenizer (special tokens: '')."""
    texts = _texts_by_tokenizer.get(tokenizer)
    if texts is None:
        size = len(tokenizer)
        texts = tokenizer.batch_decode([[index] for index in range(size)], skip_special_tokens=True)
        _texts_by_tokenizer[tokenizer] = texts
    return texts


def token_constraint(tokenizer: Any, end_ids: list[int], rules: ResponseRules, vocabulary_size: int) -> TokenConstraint:
    texts = token_texts(tokenizer)
    texts = texts + [""] * max(0, vocabulary_size - len(texts))  # embedding rows past the tokenizer never decode
    blocked = set(tokenizer.all_special_ids) | {index for index, added in tokenizer.added_tokens_decoder.items() if added.special}
    return TokenConstraint(texts, blocked, [index for index in end_ids if index < len(texts)], rules)
