"""q4_k_m with llama.cpp's own quantizer (the library node-llama-cpp ships), read back with gguf-py:
the big matrices become Q4_K / Q6_K as llama-quantize's Q4_K_M recipe chooses, dequantize close to the
f16 source, the tokenizer and chat template survive, and `export --quant q4_k_m` writes only quantized
model files (the f16 intermediate is removed unless `--keep-f16`). The tiny model here has hidden sizes
that are multiples of 256 so that real k-quants happen (llama.cpp falls back to Q5_0/Q8_0 otherwise)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import build_tiny_model, chat_examples, make_spec, run_worker, worker_environment, write_jsonl

from tunekit_worker import llama_quantize

LIBRARY_FOLDER = llama_quantize.library_folder()
needs_library = pytest.mark.skipif(
    LIBRARY_FOLDER is None,
    reason="llama.cpp's library (node_modules/@node-llama-cpp/<platform>/bins) is not installed: run `npm install` or set TUNEKIT_LLAMA_LIB_DIR",
)


def build_k_quant_model(folder: Path) -> Path:
    """The shared tiny tokenizer with a Llama of hidden 256, ffn 512, head_dim 64 (k-quant block = 256)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    build_tiny_model(folder)
    config = LlamaConfig.from_pretrained(folder)
    config.hidden_size, config.intermediate_size, config.head_dim = 256, 512, 64
    config.initializer_range = 0.1  # logits a LoRA fine-tune can move (the e2e test trains it to answer)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def k_quant_model(tmp_path_factory) -> Path:
    return build_k_quant_model(tmp_path_factory.mktemp("k-quant-llama"))


@pytest.fixture(scope="module")
def f16_gguf(k_quant_model, tmp_path_factory) -> Path:
    from tunekit_worker.export import load_hf
    from tunekit_worker.export_gguf import write_model_gguf

    model, tokenizer, tokenizer_dir = load_hf(str(k_quant_model), None)
    return write_model_gguf(model.state_dict(), model.config, tokenizer, tokenizer_dir, tmp_path_factory.mktemp("f16") / "model-f16.gguf", "f16", "k-quant")


def run_export(*args: str, environment: dict[str, str] | None = None) -> tuple[int, dict]:
    completed = subprocess.run([sys.executable, "-m", "tunekit_worker", *args], capture_output=True, text=True, timeout=180, env=environment or worker_environment())
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, completed.stdout  # llama.cpp's log goes to stderr, stdout holds the one answer
    return completed.returncode, json.loads(lines[0])


@needs_library
def test_q4_k_m_gives_k_quant_tensors_close_to_the_f16_source(f16_gguf, tmp_path):
    import gguf

    from tunekit_worker.export_gguf import dequantized

    target = llama_quantize.quantize_gguf(f16_gguf, tmp_path / "model-q4_k_m.gguf", "q4_k_m", threads=1)
    source, quantized = gguf.GGUFReader(str(f16_gguf)), gguf.GGUFReader(str(target))
    assert quantized.fields["general.file_type"].contents() == llama_quantize.LLAMA_FTYPE_MOSTLY_Q4_K_M
    types = {tensor.name: tensor.tensor_type for tensor in quantized.tensors}
    Q4_K, Q6_K = gguf.GGMLQuantizationType.Q4_K, gguf.GGMLQuantizationType.Q6_K
    # llama.cpp's Q4_K_M recipe: Q6_K output and the first half of the attn_v / ffn_down layers get Q6_K
    # (use_more_bits), the other matrices Q4_K, norms stay F32
    assert types["output.weight"] == Q6_K
    assert types["token_embd.weight"] == Q4_K
    for layer in (0, 1):
        for name in ("attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"):
            assert types[f"blk.{layer}.{name}.weight"] == Q4_K, name
        assert types[f"blk.{layer}.attn_norm.weight"] == gguf.GGMLQuantizationType.F32
    assert {types["blk.0.ffn_down.weight"], types["blk.1.ffn_down.weight"]} == {Q4_K, Q6_K}
    assert target.stat().st_size < 0.4 * f16_gguf.stat().st_size

    by_name = {tensor.name: tensor for tensor in source.tensors}
    for tensor in quantized.tensors:
        original = dequantized(by_name[tensor.name])
        error = np.linalg.norm(dequantized(tensor) - original) / np.linalg.norm(original)
        # 4-bit blocks of 32 with 6-bit scales and mins on Gaussian weights: ~7%; 6-bit: ~2%
        limit = {Q4_K: 0.09, Q6_K: 0.025}.get(tensor.tensor_type, 0.0)
        assert error <= limit, f"{tensor.name} ({tensor.tensor_type.name}): relative error {error:.4f}"

    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.chat_template", "tokenizer.ggml.eos_token_id", "llama.attention.head_count_kv"):
        assert quantized.fields[key].contents() == source.fields[key].contents(), key


@needs_library
def test_a_file_llama_cpp_cannot_read_is_a_clear_error_and_leaves_no_output(tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 60)
    target = tmp_path / "out.gguf"
    with pytest.raises(llama_quantize.WorkerError) as raised:
        llama_quantize.quantize_gguf(broken, target, "q4_k_m", threads=1)
    assert raised.value.code == "quantize_failed" and raised.value.field == "--quant"
    assert "`broken.gguf`" in raised.value.message and "--quant f16" in raised.value.message
    assert not target.exists()


@pytest.fixture(scope="module")
def k_quant_run(k_quant_model, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("k-quant-run")
    train = write_jsonl(root / "train.jsonl", chat_examples(16))
    spec = make_spec(k_quant_model, train, root / "run", max_steps=2, eval_every=100, checkpoint_every=100)
    code, _, stderr = run_worker(spec, root / "spec.json")
    assert code == 0, stderr[-2000:]
    return root / "run"


@needs_library
def test_ollama_export_in_q4_k_m_quantizes_base_and_merged_and_keeps_the_adapter_f32(k_quant_run, tmp_path):
    import gguf

    out = tmp_path / "ollama"
    code, result = run_export("export", str(k_quant_run), "--format", "ollama", "--quant", "q4_k_m", "--threads", "1", "--out", str(out))
    assert code == 0, result
    assert sorted(path.name for path in out.iterdir()) == ["Modelfile", "Modelfile.adapter", "adapter.gguf", "base-q4_k_m.gguf", "model-q4_k_m.gguf"]
    assert Path(result["modelfile"]).read_text().startswith("FROM ./model-q4_k_m.gguf\n")
    assert "FROM ./base-q4_k_m.gguf\nADAPTER ./adapter.gguf\n" in Path(result["modelfile_adapter"]).read_text()
    assert 'PARAMETER stop "<|im_end|>"' in Path(result["modelfile"]).read_text()  # read from the quantized file's metadata
    for name in ("base-q4_k_m.gguf", "model-q4_k_m.gguf"):
        reader = gguf.GGUFReader(str(out / name))
        assert reader.fields["general.file_type"].contents() == llama_quantize.LLAMA_FTYPE_MOSTLY_Q4_K_M
        assert {tensor.name: tensor.tensor_type for tensor in reader.tensors}["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.Q4_K
    adapter = gguf.GGUFReader(result["adapter_gguf"])
    assert {tensor.tensor_type for tensor in adapter.tensors} == {gguf.GGMLQuantizationType.F32}


@needs_library
def test_keep_f16_keeps_the_file_llama_cpp_quantized_from(k_quant_run, tmp_path):
    import gguf

    code, result = run_export("export", str(k_quant_run), "--format", "gguf", "--quant", "q4_k_m", "--keep-f16", "--threads", "1", "--out", str(tmp_path / "out"))
    assert code == 0, result
    assert Path(result["merged_f16_gguf"]).name == "model-f16.gguf" and Path(result["base_f16_gguf"]).name == "base-f16.gguf"
    kept = gguf.GGUFReader(result["merged_f16_gguf"])
    assert kept.fields["general.file_type"].contents() == int(gguf.LlamaFileType.MOSTLY_F16)


def test_without_the_library_q4_k_m_fails_before_writing_anything(k_quant_run, tmp_path):
    environment = {**worker_environment(), llama_quantize.LIBRARY_DIR_VARIABLE: str(tmp_path / "no-llama")}
    code, result = run_export("export", str(k_quant_run), "--format", "gguf", "--quant", "q4_k_m", "--out", str(tmp_path / "out"), environment=environment)
    assert code == 2
    assert result["error"]["code"] == "llama_cpp_missing" and result["error"]["field"] == "--quant"
    assert "TUNEKIT_LLAMA_LIB_DIR" in result["error"]["message"] and "npm install" in result["error"]["message"]
    assert not (tmp_path / "out").exists()


def test_an_adapter_gguf_is_not_quantized(k_quant_run, tmp_path):
    code, result = run_export("export", str(k_quant_run), "--format", "gguf-adapter", "--quant", "q4_k_m", "--out", str(tmp_path / "out"))
    assert code == 2
    assert result["error"]["field"] == "--quant" and "adapter" in result["error"]["message"] and "--format gguf" in result["error"]["message"]
