"""Reading a dataset file and turning each example into token ids plus a trained-token mask.

The trained-token rule is shared with the TypeScript `tunekit data stats` (a test compares counts):

- chat: full = render(messages, add_generation_prompt=False); ids = tokenize(full). For each
  assistant message i with weight != 0: start = len(tokenize(render(messages[:i],
  add_generation_prompt=True))), end = len(tokenize(render(messages[:i+1]))); ids[start:end] are
  trained. Rendered prefixes must tokenize to a prefix of ids, except that the last token of a prefix
  may differ (a BPE merge across the boundary, e.g. a reply starting with spaces merges with the
  template's newline): then the boundary is the common-prefix length. Any larger difference means
  the template rewrites earlier turns, and we stop.
- prompt-completion: ids = tokenize(prompt) + tokenize(completion) + [eos]; completion + eos trained.
- text: ids = tokenize(text) + [eos]; everything trained.
- preference (DPO): each answer is a chat example, input.messages + answer, whose input assistant
  turns are not trained; the pair is tokenized twice.

`tokenize` is tokenizer(text, add_special_tokens=False): the template (or the eos we append) is the
only source of special tokens. `render` is apply_chat_template(..., tokenize=False) with `tools`
when the example has them. Message content given as a list of parts is joined into one string
(text parts only) before rendering. Examples longer than max_seq_len are cut to max_seq_len.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import BadConfig

DETECTABLE_FORMATS = ("chat", "prompt-completion", "preference", "text")


@dataclass
class TokenizedExample:
    input_ids: list[int]
    trained_mask: list[bool]  # True where the token is trained (contributes to the loss)
    tokens_before_truncation: int
    trained_before_truncation: int

    @property
    def truncated(self) -> bool:
        return len(self.input_ids) < self.tokens_before_truncation

    @property
    def trained_tokens(self) -> int:
        return sum(self.trained_mask)

    @property
    def length(self) -> int:
        return len(self.input_ids)


@dataclass
class PreferencePair:
    """A DPO example: the same prompt with the preferred and the non-preferred answer, each
    tokenized by the chat rule (the answer's assistant turns are trained, the prompt's are not)."""

    chosen: TokenizedExample
    rejected: TokenizedExample

    @property
    def length(self) -> int:
        return self.chosen.length + self.rejected.length

    @property
    def tokens_before_truncation(self) -> int:
        return self.chosen.tokens_before_truncation + self.rejected.tokens_before_truncation

    @property
    def trained_tokens(self) -> int:
        return self.chosen.trained_tokens + self.rejected.trained_tokens

    @property
    def truncated(self) -> bool:
        return self.chosen.truncated or self.rejected.truncated

    @property
    def trained_before_truncation(self) -> int:
        return self.chosen.trained_before_truncation + self.rejected.trained_before_truncation


def detect_format(example: Any) -> str | None:
    """Same rule as `detectFormat` in src/spec/dataset.ts."""
    if not isinstance(example, dict):
        return None
    if "messages" in example:
        return "chat"
    if "preferred_output" in example or "non_preferred_output" in example:
        return "preference"
    if "prompt" in example and "completion" in example:
        return "prompt-completion"
    if "text" in example:
        return "text"
    return None


def read_jsonl(path: str, field_name: str) -> list[dict[str, Any]]:
    """Read a JSON Lines file; blank lines are skipped, a bad line is a bad_config naming it."""
    examples = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                example = json.loads(line)
            except json.JSONDecodeError as error:
                raise BadConfig(
                    f"{path} line {line_number} is not valid JSON ({error.msg}); run `tunekit data validate` on it",
                    field=field_name,
                ) from None
            examples.append(example)
    if not examples:
        raise BadConfig(f"{path} has no examples", field=field_name)
    return examples


def resolve_format(examples: list[dict[str, Any]], declared: str, path: str, field_name: str) -> str:
    data_format = declared if declared != "auto" else detect_format(examples[0])
    if data_format is None:
        raise BadConfig(
            f"cannot detect the format of {path} line 1: expected `messages`, `prompt`+`completion` or `text`; set `data.format`",
            field="data.format",
        )
    for index, example in enumerate(examples):
        if detect_format(example) != data_format:
            raise BadConfig(
                f"{path} example {index + 1} is not in the `{data_format}` format of the rest of the file",
                field=field_name,
            )
    return data_format


def _content_text(content: Any) -> Any:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")
    return content


def normalize_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as the template sees them: text content, no `weight` key."""
    normalized = []
    for message in messages:
        copy = {key: value for key, value in message.items() if key != "weight"}
        if "content" in copy:
            copy["content"] = _content_text(copy["content"])
        normalized.append(copy)
    return normalized


def boundary(prefix: list[int], ids: list[int], where: str, label: str) -> int:
    """Where `prefix` ends inside `ids`: its length when it is a true prefix, the common-prefix length
    when only its last token differs (a merge across the boundary); anything else is an error."""
    common = 0
    limit = min(len(prefix), len(ids))
    while common < limit and prefix[common] == ids[common]:
        common += 1
    if common >= len(prefix) - 1:
        return common
    raise BadConfig(
        f"{where}: the chat template renders {label} differently from the full conversation (its tokens "
        "are not a prefix), so trained tokens cannot be located; use a template that only appends turns "
        "(set `data.chat_template`)",
        field="data.chat_template",
    )


class ExampleTokenizer:
    """Applies the trained-token rule with one tokenizer and chat template."""

    def __init__(self, tokenizer: Any, max_seq_len: int, chat_template: str | None = None) -> None:
        self.tokenizer = tokenizer
        self.max_seq_len = max_seq_len
        self.chat_template = chat_template or getattr(tokenizer, "chat_template", None)
        if tokenizer.eos_token_id is None:
            raise BadConfig("the tokenizer of `model` has no eos token; pick a model with one", field="model")

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def render(self, messages: list[dict[str, Any]], tools: Any, add_generation_prompt: bool) -> str:
        if not self.chat_template:
            raise BadConfig(
                "the model's tokenizer has no chat template, so chat data cannot be rendered; set `data.chat_template` to a Jinja template (for example ChatML)",
                field="data.chat_template",
            )
        return self.tokenizer.apply_chat_template(
            messages,
            tools=tools or None,
            chat_template=self.chat_template,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
        )

    def chat(self, example: dict[str, Any], where: str) -> TokenizedExample:
        messages = normalize_messages(example["messages"])
        tools = example.get("tools")
        ids = self.tokenize(self.render(messages, tools, add_generation_prompt=False))
        mask = [False] * len(ids)
        for index, message in enumerate(example["messages"]):
            if message.get("role") != "assistant" or message.get("weight", 1) == 0:
                continue
            prompt_ids = self.tokenize(self.render(messages[:index], tools, add_generation_prompt=True))
            through_ids = self.tokenize(self.render(messages[: index + 1], tools, add_generation_prompt=False))
            start = boundary(prompt_ids, ids, where, f"the prompt before assistant message {index + 1}")
            end = boundary(through_ids, ids, where, f"the conversation through assistant message {index + 1}")
            for position in range(start, max(start, end)):
                mask[position] = True
        return self._finish(ids, mask)

    def prompt_completion(self, example: dict[str, Any]) -> TokenizedExample:
        prompt_ids = self.tokenize(example["prompt"])
        completion_ids = self.tokenize(example["completion"]) + [self.tokenizer.eos_token_id]
        return self._finish(prompt_ids + completion_ids, [False] * len(prompt_ids) + [True] * len(completion_ids))

    def text(self, example: dict[str, Any]) -> TokenizedExample:
        ids = self.tokenize(example["text"]) + [self.tokenizer.eos_token_id]
        return self._finish(ids, [True] * len(ids))

    def _finish(self, ids: list[int], mask: list[bool]) -> TokenizedExample:
        return TokenizedExample(
            input_ids=ids[: self.max_seq_len],
            trained_mask=mask[: self.max_seq_len],
            tokens_before_truncation=len(ids),
            trained_before_truncation=sum(mask),
        )

    def preference(self, example: dict[str, Any], where: str) -> PreferencePair:
        prompt = example.get("input", {}).get("messages", [])
        tools = example.get("input", {}).get("tools")
        context = [{**message, "weight": 0} if message.get("role") == "assistant" else message for message in prompt]
        return PreferencePair(
            chosen=self.chat({"messages": context + example["preferred_output"], "tools": tools}, where),
            rejected=self.chat({"messages": context + example["non_preferred_output"], "tools": tools}, where),
        )

    def __call__(self, example: dict[str, Any], data_format: str, where: str) -> TokenizedExample | PreferencePair:
        if data_format == "preference":
            return self.preference(example, where)
        if data_format == "chat":
            return self.chat(example, where)
        if data_format == "prompt-completion":
            return self.prompt_completion(example)
        if data_format == "text":
            return self.text(example)
        raise BadConfig(f"the local worker cannot train on `{data_format}` data yet", field="data.format")


def load_examples(path: str, field_name: str, declared_format: str, example_tokenizer: ExampleTokenizer) -> tuple[str, list[TokenizedExample]]:
    raw = read_jsonl(path, field_name)
    data_format = resolve_format(raw, declared_format, path, field_name)
    tokenized = [example_tokenizer(example, data_format, where=f"{path} example {index + 1}") for index, example in enumerate(raw)]
    return data_format, tokenized
