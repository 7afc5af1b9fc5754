"""A random LoRA adapter GGUF with the right shapes for a llama GGUF base, written with the same writer
layout as `tunekit export --format gguf` (general.type=adapter, adapter.lora.alpha, blk.N.*.lora_a/b).

    python bench/serve/make_random_adapter.py BASE.gguf OUT.gguf [--rank 16] [--alpha 32]

The bench measures serving cost, which depends on the adapter's shapes (rank, which layers), not on
what it learned: every linear layer of every block gets an adapter (all-linear, like Tunekit's default).
B is non-zero (unlike a fresh PEFT adapter), so every LoRA matmul really runs; `--b-std` sets its
scale. The bench uses a small one (1e-5) so that the answers, and so the work, stay the same as the
base model's: LoRA's cost does not depend on the values, but an adapter that ends answers sooner
changes tokens/s over wall time by itself (with B ~ 0.01 the base wrote 288 tokens, the adapter 165).
For a random base (make_random_base.py) the bench passes `--b-std 0`: its logits are nearly flat, so
even 1e-5 flips greedy ties; llama.cpp runs the same two matmuls, scale and add for a zero B.
"""

from __future__ import annotations

import argparse

import gguf
import numpy as np

LINEAR = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("out")
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--alpha", type=float, default=32.0)
    parser.add_argument("--b-std", type=float, default=0.01, help="standard deviation of B (default 0.01)")
    parser.add_argument("--layers", default=",".join(LINEAR), help="which linear layers get adapters (default all 7)")
    args = parser.parse_args()
    reader = gguf.GGUFReader(args.base)
    generator = np.random.default_rng(0)
    writer = gguf.GGUFWriter(args.out, str(reader.fields["general.architecture"].contents()))
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, args.alpha)
    count = 0
    for tensor in reader.tensors:
        parts = tensor.name.split(".")
        if len(parts) != 4 or parts[0] != "blk" or parts[2] not in args.layers.split(","):
            continue
        inputs, outputs = int(tensor.shape[0]), int(tensor.shape[1])  # ggml order: ne0 = input features
        writer.add_tensor(f"{tensor.name}.lora_a", (generator.standard_normal((args.rank, inputs)) / np.sqrt(inputs)).astype(np.float32))
        writer.add_tensor(f"{tensor.name}.lora_b", (generator.standard_normal((outputs, args.rank)) * args.b_std).astype(np.float32))
        count += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"{count} adapted layers, rank {args.rank}")


if __name__ == "__main__":
    main()
