"""The trained-token rule (shared with `tunekit data stats`): which tokens of an example train."""

from __future__ import annotations

import pytest
from conftest import chat_examples, multi_turn_examples, write_jsonl
from transformers import AutoTokenizer

from tunekit_worker.batches import collate
from tunekit_worker.errors import BadConfig
from tunekit_worker.examples import ExampleTokenizer, load_examples


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    return AutoTokenizer.from_pretrained(tiny_model)


def trained_text(tokenizer, example) -> str:
    return tokenizer.decode([token for token, trained in zip(example.input_ids, example.trained_mask, strict=True) if trained])


def expected_chat_trained_text(example: dict) -> str:
    """Under ChatML, a trained assistant turn is its content plus `<|im_end|>` and the newline."""
    return "".join(message["content"] + "<|im_end|>\n" for message in example["messages"] if message["role"] == "assistant" and message.get("weight", 1) != 0)


def test_chat_trains_exactly_the_assistant_turns_with_weight(tokenizer) -> None:
    rule = ExampleTokenizer(tokenizer, max_seq_len=512)
    for example in chat_examples(3) + multi_turn_examples():
        tokenized = rule(example, "chat", where="test")
        assert trained_text(tokenizer, tokenized) == expected_chat_trained_text(example)
        assert tokenized.trained_tokens == sum(
            len(tokenizer(message["content"], add_special_tokens=False)["input_ids"]) + 2
            for message in example["messages"]
            if message["role"] == "assistant" and message.get("weight", 1) != 0
        )
        full_text = tokenizer.decode(tokenized.input_ids)
        assert full_text.startswith("<|im_start|>") and full_text.endswith("<|im_end|>\n")


def test_list_content_is_joined_text(tokenizer) -> None:
    tokenized = ExampleTokenizer(tokenizer, 512)(multi_turn_examples()[1], "chat", where="test")
    assert "Name a fruit" in tokenizer.decode(tokenized.input_ids)


def test_prompt_completion_trains_completion_and_eos(tokenizer) -> None:
    tokenized = ExampleTokenizer(tokenizer, 512)({"prompt": "What color is the sky?", "completion": " blue"}, "prompt-completion", "t")
    assert trained_text(tokenizer, tokenized) == " blue<|im_end|>"
    assert tokenizer.decode(tokenized.input_ids) == "What color is the sky? blue<|im_end|>"


def test_text_trains_everything_plus_eos(tokenizer) -> None:
    tokenized = ExampleTokenizer(tokenizer, 512)({"text": "The sky is blue."}, "text", "t")
    assert all(tokenized.trained_mask)
    assert tokenizer.decode(tokenized.input_ids) == "The sky is blue.<|im_end|>"


def test_long_examples_are_truncated_and_counted(tokenizer) -> None:
    tokenized = ExampleTokenizer(tokenizer, max_seq_len=16)(chat_examples(1)[0], "chat", "t")
    assert len(tokenized.input_ids) == 16 and tokenized.truncated
    assert tokenized.tokens_before_truncation > 16
    assert tokenized.trained_tokens <= tokenized.trained_before_truncation


def test_missing_chat_template_is_a_clear_bad_config(tmp_path) -> None:
    from conftest import build_tiny_model

    folder = build_tiny_model(tmp_path / "no-template", chat_template=None)
    rule = ExampleTokenizer(AutoTokenizer.from_pretrained(folder), 512)
    with pytest.raises(BadConfig, match="no chat template") as raised:
        rule(chat_examples(1)[0], "chat", "t")
    assert raised.value.field == "data.chat_template"


def test_template_that_rewrites_history_breaks_the_prefix_rule(tokenizer) -> None:
    # numbering turns by the conversation length changes earlier text when a turn is added
    template = "{% for message in messages %}{{ messages|length }}:{{ message['content'] }}<|im_end|>{% endfor %}"
    rule = ExampleTokenizer(tokenizer, 512, chat_template=template)
    with pytest.raises(BadConfig, match="not a prefix"):
        rule(chat_examples(1)[0], "chat", "t")


def test_loss_targets_count_equals_the_rule(tokenizer, tmp_path) -> None:
    path = write_jsonl(tmp_path / "data.jsonl", chat_examples(5) + multi_turn_examples())
    data_format, examples = load_examples(str(path), "data.train", "auto", ExampleTokenizer(tokenizer, 512))
    assert data_format == "chat"
    for packing in (True, False):
        micro_batch = collate(examples, packing=packing, pad_token_id=tokenizer.pad_token_id)
        assert micro_batch.loss_tokens == sum(example.trained_tokens for example in examples)


def test_mixed_formats_in_one_file_are_rejected(tokenizer, tmp_path) -> None:
    path = write_jsonl(tmp_path / "mixed.jsonl", chat_examples(1) + [{"text": "hello"}])
    with pytest.raises(BadConfig, match="example 2") as raised:
        load_examples(str(path), "data.train", "auto", ExampleTokenizer(tokenizer, 512))
    assert raised.value.field == "data.train"
