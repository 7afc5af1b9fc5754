"""GGUF / HF / Ollama export: the written GGUF loads back (transformers' own GGUF reader) with the same
logits and tokens as the source model, the adapter GGUF has llama.cpp's adapter layout, the merged
GGUF equals base + adapter, and q4_k_m of a model too narrow for k-quant blocks uses llama.cpp's fallback
types (real k-quants: test_llama_quantize.py).
(Greedy output in llama.cpp itself is checked on the TypeScript side: test/export-gguf.test.ts.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import chat_examples, make_spec, run_worker, worker_environment, write_jsonl

from tunekit_worker.llama_quantize import library_folder

PROMPT = "<|im_start|>system\nYou answer with one sentence.<|im_end|>\n<|im_start|>user\nWhat color is the sky?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def trained_run(tiny_model, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("export-run")
    train = write_jsonl(root / "train.jsonl", chat_examples(16))
    spec = make_spec(tiny_model, train, root / "run", epochs=1, eval_every=100, checkpoint_every=100)
    code, events, stderr = run_worker(spec, root / "spec.json")
    assert code == 0, stderr[-2000:]
    return root / "run"


def run_export(*args: str) -> tuple[int, dict]:
    completed = subprocess.run([sys.executable, "-m", "tunekit_worker", *args], capture_output=True, text=True, timeout=180, env=worker_environment())
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    return completed.returncode, json.loads(lines[-1])


def logits(model, tokenizer, text: str) -> torch.Tensor:
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
    with torch.no_grad():
        return model(ids).logits[0]


def test_gguf_export_loads_back_with_the_same_tokens_and_logits(trained_run, tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    code, result = run_export("export", str(trained_run), "--format", "gguf", "--quant", "f32", "--out", str(tmp_path / "out"))
    assert code == 0, result
    assert Path(result["base_gguf"]).name == "base-f32.gguf" and Path(result["merged_gguf"]).name == "model-f32.gguf"
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    source = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    back = AutoModelForCausalLM.from_pretrained(tmp_path / "out", gguf_file="base-f32.gguf", dtype=torch.float32)
    back_tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out", gguf_file="base-f32.gguf")
    assert back_tokenizer(PROMPT, add_special_tokens=False).input_ids == tokenizer(PROMPT, add_special_tokens=False).input_ids
    torch.testing.assert_close(logits(back, tokenizer, PROMPT), logits(source, tokenizer, PROMPT), atol=1e-5, rtol=0)

    from peft import PeftModel

    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32), str(trained_run / "adapter"))
    merged_back = AutoModelForCausalLM.from_pretrained(tmp_path / "out", gguf_file="model-f32.gguf", dtype=torch.float32)
    expected = logits(tuned, tokenizer, PROMPT)
    assert (expected - logits(source, tokenizer, PROMPT)).abs().max() > 1e-3  # the adapter changes the model
    torch.testing.assert_close(logits(merged_back, tokenizer, PROMPT), expected, atol=1e-4, rtol=0)


def test_adapter_gguf_has_llama_cpp_adapter_layout(trained_run, tmp_path):
    import gguf

    code, result = run_export("export", str(trained_run), "--format", "gguf", "--quant", "f16", "--out", str(tmp_path / "out"))
    assert code == 0, result
    reader = gguf.GGUFReader(result["adapter_gguf"])
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.type"].contents() == "lora"
    config = json.loads((trained_run / "adapter" / "adapter_config.json").read_text())
    assert reader.fields["adapter.lora.alpha"].contents() == pytest.approx(config["lora_alpha"])
    tensors = {tensor.name: tensor for tensor in reader.tensors}
    # all-linear on 2 layers: 7 linear layers each, an A and a B for each
    assert len(tensors) == 2 * 7 * 2
    a, b = tensors["blk.0.attn_q.weight.lora_a"], tensors["blk.0.attn_q.weight.lora_b"]
    rank = config["r"]
    assert [int(n) for n in a.shape] == [32, rank] and [int(n) for n in b.shape] == [rank, 32]  # ggml order: ne0 = inner
    assert "blk.1.ffn_down.weight.lora_a" in tensors
    base = gguf.GGUFReader(result["base_gguf"])
    assert base.fields["general.file_type"].contents() == int(gguf.LlamaFileType.MOSTLY_F16)
    assert {t.name: t.tensor_type for t in base.tensors}["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.F16
    assert "<|im_start|>" in base.fields["tokenizer.chat_template"].contents()
    eos = base.fields["tokenizer.ggml.eos_token_id"].contents()
    assert base.fields["tokenizer.ggml.tokens"].contents()[eos] == "<|im_end|>"


def test_merged_gguf_from_a_gguf_base_keeps_its_metadata_and_adds_the_adapter(trained_run, tmp_path):
    """The path the demo takes: the base is a .gguf (converted here from the tiny model, in q8_0 to
    show dequantization), the merged file keeps its tokenizer and adds (alpha/r) B A in place."""
    import gguf

    base_gguf = tmp_path / "base-q8.gguf"
    code, result = run_export("convert-gguf", str(trained_run.parent.parent / "does-not-matter"), str(base_gguf))
    assert code != 0 and "error" in result
    model_dir = json.loads((trained_run / "summary.json").read_text())["resolved_config"]["model"]
    code, result = run_export("convert-gguf", model_dir, str(base_gguf), "--quant", "q8_0")
    assert code == 0, result
    code, result = run_export("export", str(trained_run), "--format", "gguf", "--quant", "f32", "--model", str(base_gguf), "--out", str(tmp_path / "out"))
    assert code == 0, result
    assert result["base_gguf"] == str(base_gguf)
    base, merged = gguf.GGUFReader(str(base_gguf)), gguf.GGUFReader(result["merged_gguf"])
    assert merged.fields["tokenizer.ggml.tokens"].contents() == base.fields["tokenizer.ggml.tokens"].contents()
    assert merged.fields["general.file_type"].contents() == int(gguf.LlamaFileType.ALL_F32)

    from tunekit_worker.export_gguf import dequantized, permute_rows, read_adapter

    config, tensors = read_adapter(trained_run / "adapter")
    prefix = "base_model.model.model.layers.1.self_attn.k_proj"
    delta = (config["lora_alpha"] / config["r"]) * tensors[f"{prefix}.lora_B.weight"] @ tensors[f"{prefix}.lora_A.weight"]
    base_k = dequantized(next(t for t in base.tensors if t.name == "blk.1.attn_k.weight"))
    merged_k = dequantized(next(t for t in merged.tensors if t.name == "blk.1.attn_k.weight"))
    np.testing.assert_allclose(merged_k, base_k + permute_rows(delta, 2), atol=1e-6)


@pytest.mark.skipif(library_folder() is None, reason="llama.cpp's library (node_modules/@node-llama-cpp) is not installed: run `npm install`")
def test_q4_k_m_of_rows_not_a_multiple_of_256_falls_back_like_llama_quantize(trained_run, tmp_path):
    """hidden 32: no tensor fits a 256-wide k-quant block, so llama.cpp picks its fallback types
    (Q5_0 for Q4_K, Q8_0 for Q6_K); the file is still a loadable q4_k_m export."""
    import gguf

    code, result = run_export("export", str(trained_run), "--format", "gguf", "--quant", "q4_k_m", "--threads", "1", "--out", str(tmp_path / "out"))
    assert code == 0, result
    types = {tensor.name: tensor.tensor_type for tensor in gguf.GGUFReader(result["merged_gguf"]).tensors}
    assert types["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.Q5_0
    assert types["output.weight"] == gguf.GGMLQuantizationType.Q8_0
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["adapter.gguf", "base-q4_k_m.gguf", "model-q4_k_m.gguf"]


def test_hf_export_stops_at_end_of_turn_and_matches_the_adapter(trained_run, tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    code, result = run_export("export", str(trained_run), "--format", "hf", "--out", str(tmp_path / "hf"))
    assert code == 0, result
    exported = AutoModelForCausalLM.from_pretrained(result["model_dir"], dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(result["model_dir"])
    end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>")
    eos = exported.generation_config.eos_token_id
    assert end_of_turn in (eos if isinstance(eos, list) else [eos])
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32), str(trained_run / "adapter"))
    torch.testing.assert_close(logits(exported, tokenizer, PROMPT), logits(tuned, tokenizer, PROMPT), atol=1e-4, rtol=0)


def test_ollama_modelfiles_carry_template_and_stops(trained_run, tmp_path):
    code, result = run_export("export", str(trained_run), "--format", "ollama", "--quant", "q8_0", "--out", str(tmp_path / "ollama"))
    assert code == 0, result
    modelfile = Path(result["modelfile"]).read_text()
    assert modelfile.startswith("FROM ./model-q8_0.gguf\n")
    assert "<|im_start|>{{ .Role }}" in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile
    adapter_modelfile = Path(result["modelfile_adapter"]).read_text()
    assert "FROM ./base-q8_0.gguf\nADAPTER ./adapter.gguf\n" in adapter_modelfile
    for name in ("model-q8_0.gguf", "base-q8_0.gguf", "adapter.gguf"):
        assert (tmp_path / "ollama" / name).stat().st_size > 0
