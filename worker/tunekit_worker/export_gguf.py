"""GGUF export with gguf-py's writer, following llama.cpp's convert_hf_to_gguf.py (LlamaModel) and
convert_lora_to_gguf.py.

- `write_model_gguf`: a Hugging Face llama-family model (state dict + config + tokenizer) as a GGUF
  model: llama architecture metadata, the BPE tokenizer (gpt2 model, merges, special ids, chat
  template), q/k weights permuted to llama.cpp's rotary layout.
- `write_lora_gguf`: a PEFT LoRA adapter as a GGUF adapter (general.type=adapter, adapter.type=lora,
  adapter.lora.alpha; tensors `blk.N.attn_q.weight.lora_a` / `.lora_b`, lora_b of q/k permuted
  like the base weights they apply to).
- `write_merged_from_gguf`: a GGUF base with the adapter folded in, keeping the base GGUF's
  tokenizer and metadata (the way to export a model trained on a `.gguf` base).

Only llama-architecture models (Llama, SmolLM, Mistral without sliding window, ...) are written.
Quantization: f32, f16 and q8_0 with gguf-py. gguf-py has no k-quant quantizer: q4_k_m files are
written as f16 here and then quantized by llama.cpp itself (`llama_quantize.quantize_gguf`, called by
export.py); the writers below accept only the gguf-py types (`GGUF_PY_QUANTS`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BadConfig

GGUF_PY_QUANTS = ("f32", "f16", "q8_0")
LLAMA_CPP_QUANTS = ("q4_k_m",)
QUANTS = GGUF_PY_QUANTS + LLAMA_CPP_QUANTS
LLAMA_ARCHITECTURES = {"LlamaForCausalLM", "MistralForCausalLM"}

_LAYER_NAMES = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_TOP_NAMES = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}


def gguf_name(hf_name: str) -> str | None:
    """`model.layers.3.self_attn.q_proj.weight` -> `blk.3.attn_q.weight`; None for buffers to skip."""
    if hf_name.endswith("rotary_emb.inv_freq"):
        return None
    stem, _, suffix = hf_name.rpartition(".")
    if stem in _TOP_NAMES:
        return f"{_TOP_NAMES[stem]}.{suffix}"
    match = re.fullmatch(r"model\.layers\.(\d+)\.(.+)", stem)
    if match and match.group(2) in _LAYER_NAMES:
        return f"blk.{match.group(1)}.{_LAYER_NAMES[match.group(2)]}.{suffix}"
    raise BadConfig(f"no GGUF name for tensor `{hf_name}` (only llama-architecture models export to GGUF)", "model")


def permute_rows(weights: np.ndarray, n_head: int) -> np.ndarray:
    """HF's rotate-half q/k rows -> llama.cpp's interleaved rotary layout (convert_hf_to_gguf.py)."""
    return weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def rotary_heads(name: str, n_head: int, n_head_kv: int) -> int | None:
    """How many heads to permute a q/k tensor (by GGUF name) with; None for other tensors."""
    if ".attn_q." in name:
        return n_head
    if ".attn_k." in name:
        return n_head_kv
    return None


def encode_tensor(data: np.ndarray, quant: str) -> tuple[np.ndarray, Any]:
    """(data, raw_dtype) for GGUFWriter.add_tensor: 1-D tensors stay f32 as llama.cpp writes them."""
    import gguf

    data = np.ascontiguousarray(data, dtype=np.float32)
    if data.ndim <= 1 or quant == "f32":
        return data, None
    if quant == "q8_0" and data.shape[-1] % gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0][0] == 0:
        return gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0), gguf.GGMLQuantizationType.Q8_0
    return data.astype(np.float16), None


def file_type(quant: str) -> int:
    import gguf

    return {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[quant]


def check_quant(quant: str) -> None:
    """Any export quant (q4_k_m included: export.py quantizes an f16 file with llama.cpp)."""
    if quant not in QUANTS:
        raise BadConfig(f"unknown `--quant` {quant}; use one of {', '.join(QUANTS)}", "--quant")


def check_writer_quant(quant: str) -> None:
    """A type gguf-py writes itself; k-quants go through `llama_quantize.quantize_gguf` after an f16 write."""
    check_quant(quant)
    if quant not in GGUF_PY_QUANTS:
        raise BadConfig(f"`{quant}` is quantized by llama.cpp from an f16 file; write `f16` here, then call `llama_quantize.quantize_gguf`", "--quant")


# ---- HF model -> GGUF ---------------------------------------------------------------------------


def _rope_theta(config: Any) -> float:
    parameters = getattr(config, "rope_parameters", None) or {}
    if isinstance(parameters, dict) and "rope_theta" in parameters:
        return float(parameters["rope_theta"])
    return float(getattr(config, "rope_theta", 10000.0))


def _pre_tokenizer(tokenizer_dir: Path) -> str:
    """llama.cpp's `tokenizer.ggml.pre`: the pre-tokenizer regex family. SmolLM ships its own name;
    a plain byte-level BPE with the GPT-2 regex is `gpt-2`."""
    name = json.loads((tokenizer_dir / "tokenizer_config.json").read_text()).get("name_or_path", "") if (tokenizer_dir / "tokenizer_config.json").exists() else ""
    if "smollm" in str(name).lower():
        return "smollm"
    return "gpt-2"


def add_bpe_tokenizer(writer: Any, tokenizer: Any, tokenizer_dir: Path, vocab_size: int, pre: str | None = None) -> None:
    import gguf

    if not (tokenizer_dir / "tokenizer.json").exists():
        raise BadConfig(f"`{tokenizer_dir}` has no tokenizer.json (only byte-level BPE tokenizers export to GGUF here)", "model")
    model_type = json.loads((tokenizer_dir / "tokenizer.json").read_text())["model"]["type"]
    if model_type != "BPE":
        raise BadConfig(f"tokenizer model `{model_type}` is not exported to GGUF yet (BPE only)", "model")
    by_id = {index: token for token, index in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens: list[str] = []
    types: list[int] = []
    for index in range(vocab_size):
        if index not in by_id:
            tokens.append(f"[PAD{index}]")
            types.append(gguf.TokenType.UNUSED)
        elif index in added:
            tokens.append(by_id[index])
            types.append(gguf.TokenType.CONTROL if added[index].special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[index])
            types.append(gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre or _pre_tokenizer(tokenizer_dir))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(tokenizer_dir, load_merges=True, n_vocab=vocab_size)
    if "bos" not in special.add_special_token:
        special.add_special_token["bos"] = bool(getattr(tokenizer, "add_bos_token", False))
    special.add_to_gguf(writer, quiet=True)
    if special.chat_template is None and getattr(tokenizer, "chat_template", None):
        writer.add_chat_template(tokenizer.chat_template)


def write_model_gguf(state_dict: dict[str, Any], config: Any, tokenizer: Any, tokenizer_dir: Path, out_path: Path, quant: str, name: str, pre: str | None = None) -> Path:
    """A llama-family HF model as a GGUF model file."""
    import gguf

    check_writer_quant(quant)
    architectures = set(getattr(config, "architectures", None) or [])
    if not architectures & LLAMA_ARCHITECTURES and getattr(config, "model_type", "") not in ("llama", "mistral"):
        raise BadConfig(f"model architecture {sorted(architectures) or config.model_type} is not exported to GGUF yet (llama family only)", "model")
    n_head = config.num_attention_heads
    n_head_kv = getattr(config, "num_key_value_heads", None) or n_head
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_head
    out_path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out_path), "llama")
    writer.add_name(name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(file_type(quant))
    add_bpe_tokenizer(writer, tokenizer, tokenizer_dir, config.vocab_size, pre)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    for hf_name, tensor in state_dict.items():
        target = gguf_name(hf_name)
        if target is None or (tied and target == "output.weight"):
            continue
        data = tensor.detach().float().cpu().numpy()
        heads = rotary_heads(target, n_head, n_head_kv)
        if heads:
            data = permute_rows(data, heads)
        encoded, raw_dtype = encode_tensor(data, quant)
        writer.add_tensor(target, encoded, raw_dtype=raw_dtype)
    _finish(writer)
    return out_path


def _finish(writer: Any) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# ---- LoRA adapter -> GGUF -----------------------------------------------------------------------


def read_adapter(adapter_dir: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from safetensors.numpy import load_file

    config_path = adapter_dir / "adapter_config.json"
    weights_path = adapter_dir / "adapter_model.safetensors"
    if not config_path.exists() or not weights_path.exists():
        raise BadConfig(f"`{adapter_dir}` is not a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors)", "run")
    config = json.loads(config_path.read_text())
    if config.get("peft_type", "LORA") != "LORA":
        raise BadConfig(f"adapter type {config.get('peft_type')} cannot be exported (LoRA only)", "run")
    for unsupported in ("rank_pattern", "alpha_pattern"):
        if config.get(unsupported):
            raise BadConfig(f"adapters with `{unsupported}` cannot be exported to GGUF (one rank and alpha for every layer)", "run")
    if config.get("modules_to_save"):
        raise BadConfig("adapters with `modules_to_save` (fully trained layers) cannot be a GGUF LoRA; export `--format gguf` merged only", "run")
    tensors = {name: array.astype(np.float32) for name, array in load_file(str(weights_path)).items()}
    return config, tensors


def lora_alpha(config: dict[str, Any]) -> float:
    """llama.cpp scales by alpha / rank; PEFT's rsLoRA scales by alpha / sqrt(rank)."""
    alpha = float(config["lora_alpha"])
    if config.get("use_rslora"):
        alpha *= math.sqrt(float(config["r"]))
    return alpha


def lora_pairs(tensors: dict[str, np.ndarray]) -> Iterable[tuple[str, np.ndarray, np.ndarray]]:
    """(GGUF base tensor name, A [r, in], B [out, r]) for every adapted linear layer."""
    for name in sorted(tensors):
        if ".lora_A." not in name:
            continue
        base = name.replace("base_model.model.", "", 1).replace(".lora_A.weight", ".weight")
        target = gguf_name(base)
        if target is None:
            continue
        yield target, tensors[name], tensors[name.replace(".lora_A.", ".lora_B.")]


def write_lora_gguf(adapter_dir: Path, out_path: Path, n_head: int, n_head_kv: int, metadata: dict[str, Any] | None = None) -> Path:
    import gguf

    config, tensors = read_adapter(adapter_dir)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out_path), "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, lora_alpha(config))
    writer.add_name((metadata or {}).get("name", "tunekit adapter"))
    count = 0
    for target, lora_a, lora_b in lora_pairs(tensors):
        heads = rotary_heads(target, n_head, n_head_kv)
        if heads:
            lora_b = permute_rows(lora_b, heads)
        writer.add_tensor(f"{target}.lora_a", np.ascontiguousarray(lora_a))
        writer.add_tensor(f"{target}.lora_b", np.ascontiguousarray(lora_b))
        count += 1
    if count == 0:
        raise BadConfig(f"`{adapter_dir}` holds no LoRA weights for llama linear layers", "run")
    _finish(writer)
    return out_path


# ---- GGUF base + adapter -> merged GGUF ---------------------------------------------------------


def gguf_heads(reader: Any) -> tuple[str, int, int]:
    arch = str(reader.fields["general.architecture"].contents())
    if arch != "llama":
        raise BadConfig(f"GGUF base architecture `{arch}` is not supported for export (llama only)", "model")
    n_head = int(reader.fields["llama.attention.head_count"].contents())
    kv_field = reader.fields.get("llama.attention.head_count_kv")
    return arch, n_head, int(kv_field.contents()) if kv_field else n_head


def dequantized(tensor: Any) -> np.ndarray:
    import gguf

    shape = tuple(int(size) for size in reversed(tensor.shape))
    return gguf.quants.dequantize(np.asarray(tensor.data), tensor.tensor_type).reshape(shape).astype(np.float32)


def write_merged_from_gguf(base_gguf: Path, adapter_dir: Path | None, out_path: Path, quant: str, name: str) -> Path:
    """The base GGUF's metadata and tokenizer, its tensors dequantized, the LoRA delta
    (alpha / r) * B @ A added in llama.cpp's layout, then written in `quant`."""
    import gguf

    check_writer_quant(quant)
    reader = gguf.GGUFReader(str(base_gguf))
    arch, n_head, n_head_kv = gguf_heads(reader)
    deltas: dict[str, np.ndarray] = {}
    if adapter_dir is not None:
        config, tensors = read_adapter(adapter_dir)
        scale = lora_alpha(config) / float(config["r"])
        for target, lora_a, lora_b in lora_pairs(tensors):
            heads = rotary_heads(target, n_head, n_head_kv)
            delta = scale * (lora_b @ lora_a)
            deltas[target] = permute_rows(delta, heads) if heads else delta
    out_path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out_path), arch)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in ("general.architecture", "general.file_type", "general.name"):
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)
    writer.add_name(name)
    writer.add_file_type(file_type(quant))
    missing = set(deltas)
    for tensor in reader.tensors:
        data = dequantized(tensor)
        if tensor.name in deltas:
            if deltas[tensor.name].shape != data.shape:
                raise BadConfig(
                    f"adapter tensor for `{tensor.name}` has shape {deltas[tensor.name].shape}, the base has {data.shape}: the adapter was trained on another model", "run"
                )
            data = data + deltas[tensor.name]
            missing.discard(tensor.name)
        encoded, raw_dtype = encode_tensor(data, quant)
        writer.add_tensor(tensor.name, encoded, raw_dtype=raw_dtype)
    if missing:
        raise BadConfig(f"the base GGUF has no tensors {sorted(missing)[:3]} the adapter changes: the adapter was trained on another model", "run")
    _finish(writer)
    return out_path


def gguf_base_heads(base_gguf: Path) -> tuple[int, int]:
    import gguf

    _, n_head, n_head_kv = gguf_heads(gguf.GGUFReader(str(base_gguf)))
    return n_head, n_head_kv


def ensure_file(path: Path, what: str) -> None:
    if not path.exists():
        raise BadConfig(f"{what} `{path}` does not exist", field="run")
