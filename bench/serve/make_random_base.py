"""A random llama-architecture base GGUF with the shapes of a larger SmolLM2, for measuring serving cost
on models bigger than the bundled 135M one (no bigger GGUF can be downloaded on this machine).

    python bench/serve/make_random_base.py TOKENIZER.gguf OUT.gguf --shape 360m|1.7b [--quant q4_1]

Decode cost depends on the shapes and the weight type, not on the values, so random weights measure
it. The tokenizer, chat template and rope settings are copied from TOKENIZER.gguf (the bundled
SmolLM2-135M, which shares its tokenizer with the larger SmolLM2 models); the shape keys are replaced.
The model is written in f16 with gguf-py, then quantized with llama.cpp's own quantizer (q4_1 by
default, the bundled model's type) through `tunekit_worker.llama_quantize`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "worker"))
from tunekit_worker.llama_quantize import quantize_gguf  # noqa: E402


@dataclass(frozen=True)
class Shape:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int


# from the SmolLM2 model cards' config.json (head dim 64, tied embeddings, vocabulary 49152)
SHAPES = {
    "135m": Shape(576, 1536, 30, 9, 3),
    "360m": Shape(960, 2560, 32, 15, 5),
    "1.7b": Shape(2048, 8192, 24, 32, 32),
}
SHAPE_KEYS = ("block_count", "embedding_length", "feed_forward_length", "attention.head_count", "attention.head_count_kv")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tokenizer_gguf")
    parser.add_argument("out")
    parser.add_argument("--shape", choices=sorted(SHAPES), required=True)
    parser.add_argument("--quant", default="q4_1", help="llama.cpp quantization of the result (default q4_1)")
    args = parser.parse_args()
    shape = SHAPES[args.shape]
    reader = gguf.GGUFReader(args.tokenizer_gguf)
    arch = str(reader.fields["general.architecture"].contents())
    if arch != "llama":
        raise SystemExit(f"{args.tokenizer_gguf}: architecture {arch}, expected llama")
    f16_path = Path(args.out).with_suffix(".f16.gguf")
    writer = gguf.GGUFWriter(str(f16_path), arch)
    skipped = {"general.architecture", "general.file_type", "general.size_label", "general.name"} | {f"{arch}.{key}" for key in SHAPE_KEYS}
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key in skipped:
            continue
        value_type = field.types[0]
        sub_type = field.types[1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), value_type, sub_type)
    writer.add_name(f"random SmolLM2-{args.shape} shape")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_block_count(shape.layers)
    writer.add_embedding_length(shape.hidden)
    writer.add_feed_forward_length(shape.intermediate)
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.kv_heads)

    generator = np.random.default_rng(0)
    vocab = int(reader.fields[f"{arch}.vocab_size"].contents())
    head_dim = shape.hidden // shape.heads
    kv = shape.kv_heads * head_dim

    def weight(rows: int, columns: int) -> np.ndarray:  # numpy (out, in) = ggml ne0 = in
        return (generator.standard_normal((rows, columns), dtype=np.float32) * 0.02).astype(np.float16)

    writer.add_tensor("token_embd.weight", weight(vocab, shape.hidden))
    writer.add_tensor("output_norm.weight", np.ones(shape.hidden, np.float32))
    for layer in range(shape.layers):
        prefix = f"blk.{layer}"
        writer.add_tensor(f"{prefix}.attn_norm.weight", np.ones(shape.hidden, np.float32))
        writer.add_tensor(f"{prefix}.attn_q.weight", weight(shape.hidden, shape.hidden))
        writer.add_tensor(f"{prefix}.attn_k.weight", weight(kv, shape.hidden))
        writer.add_tensor(f"{prefix}.attn_v.weight", weight(kv, shape.hidden))
        writer.add_tensor(f"{prefix}.attn_output.weight", weight(shape.hidden, shape.hidden))
        writer.add_tensor(f"{prefix}.ffn_norm.weight", np.ones(shape.hidden, np.float32))
        writer.add_tensor(f"{prefix}.ffn_gate.weight", weight(shape.intermediate, shape.hidden))
        writer.add_tensor(f"{prefix}.ffn_up.weight", weight(shape.intermediate, shape.hidden))
        writer.add_tensor(f"{prefix}.ffn_down.weight", weight(shape.hidden, shape.intermediate))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    quantize_gguf(f16_path, Path(args.out), args.quant)
    f16_path.unlink()
    print(f"{args.out}: random SmolLM2-{args.shape} shape, {args.quant}")


if __name__ == "__main__":
    main()
