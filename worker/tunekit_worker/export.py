"""Export a finished run for the runtimes people use.

    python -m tunekit_worker export RUN_DIR --format hf|gguf|ollama --out DIR [--quant f16|q8_0|f32|q4_k_m] [--keep-f16] [--model BASE]
    python -m tunekit_worker convert-gguf MODEL OUT.gguf [--quant f32]

Quantization: f32/f16/q8_0 are written by gguf-py; q4_k_m is written as f16 and quantized by llama.cpp's
own `llama_model_quantize` (llama_quantize.py, the library node-llama-cpp ships). The LoRA adapter GGUF
is never quantized (f32 A/B matrices applied to the quantized base).

- hf: merged safetensors + tokenizer + config (generation_config stops at the end-of-turn token).
- gguf: `adapter.gguf` (the LoRA adapter, for the GGUF base), `model-<quant>.gguf` (merged) and, when
  the base is a Hugging Face folder, `base-<quant>.gguf` (the base the adapter applies to). A `.gguf`
  base keeps its own tokenizer and metadata, and the adapter applies to that very file.
- ollama: the gguf files plus `Modelfile` (FROM the merged GGUF) and, for adapters,
  `Modelfile.adapter` (FROM the base GGUF + ADAPTER), with the chat template and stop parameters.

stdout: one JSON object with the written paths (`{"error": {...}}` on failure, exit 2 for bad input,
1 otherwise). stderr: logs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import WorkerError
from .events import ExitCode
from .run_folder import ADAPTER_CONFIG_FILE, ADAPTER_DIR, MERGED_DIR, SUMMARY_FILE


def run_info(run_dir: Path, model_override: str | None) -> dict[str, Any]:
    """Base model, adapter folder and merged folder of a run dir."""
    if not run_dir.is_dir():
        raise WorkerError("bad_config", f"run folder `{run_dir}` does not exist", "run", ExitCode.BAD_CONFIG)
    summary_path = run_dir / SUMMARY_FILE
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    adapter = run_dir / ADAPTER_DIR
    merged = run_dir / MERGED_DIR
    base = model_override or (summary.get("resolved_config") or {}).get("model")
    if base is None and (adapter / ADAPTER_CONFIG_FILE).exists():
        base = json.loads((adapter / ADAPTER_CONFIG_FILE).read_text()).get("base_model_name_or_path")
    if not (adapter / ADAPTER_CONFIG_FILE).exists() and not (merged / "config.json").exists():
        raise WorkerError("bad_config", f"run folder `{run_dir}` has no `adapter/` or `merged/` (did the run finish?)", "run", ExitCode.BAD_CONFIG)
    if base is None:
        raise WorkerError("bad_config", f"cannot tell the base model of `{run_dir}`; pass `--model`", "--model", ExitCode.BAD_CONFIG)
    return {
        "base": str(base),
        "adapter": adapter if (adapter / ADAPTER_CONFIG_FILE).exists() else None,
        "merged": merged if (merged / "config.json").exists() else None,
        "name": run_dir.name,
    }


def load_hf(model: str, adapter: Path | None) -> tuple[Any, Any, Path]:
    """(merged model, tokenizer, folder holding tokenizer files) in fp32."""
    import torch

    from .generate import load_for_generation
    from .model_loading import _source

    try:
        tokenizer, loaded = load_for_generation(model, str(adapter) if adapter else None)
    except (OSError, ValueError) as error:
        raise WorkerError("model_load_failed", f"cannot load `{model}`{f' with adapter `{adapter}`' if adapter else ''}: {error}", "--model") from None
    if adapter is not None:
        loaded = loaded.merge_and_unload()
    loaded = loaded.to(torch.float32)
    tokenizer_dir = adapter if adapter is not None else Path(_source(model)[0])
    return loaded, tokenizer, tokenizer_dir


def tokenizer_folder(tokenizer: Any, scratch: Path) -> Path:
    tokenizer.save_pretrained(scratch)
    return scratch


def export_hf(info: dict[str, Any], out: Path) -> dict[str, Any]:
    from .generate import end_of_turn_ids

    out.mkdir(parents=True, exist_ok=True)
    if info["adapter"] is None:
        model, tokenizer, _ = load_hf(str(info["merged"]), None)
    else:
        model, tokenizer, _ = load_hf(info["base"], info["adapter"])
    model.config.use_cache = True
    stops = end_of_turn_ids(tokenizer)
    model.generation_config.eos_token_id = stops if len(stops) > 1 else stops[0]
    if tokenizer.pad_token_id is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return {"format": "hf", "model_dir": str(out)}


def _gguf_pre_of(base_gguf: Path) -> str | None:
    import gguf

    field = gguf.GGUFReader(str(base_gguf)).fields.get("tokenizer.ggml.pre")
    return str(field.contents()) if field else None


def write_in_quant(path: Path, quant: str, write: Callable[[Path, str], Any], keep_f16: bool = False, threads: int = 0) -> Path | None:
    """Write the GGUF `path` in `quant`: gguf-py types directly; k-quants as an f16 file that llama.cpp
    then quantizes (tokenizer and metadata copied). Returns the f16 file when it is kept (`model-f16.gguf`)."""
    from .export_gguf import LLAMA_CPP_QUANTS

    if quant not in LLAMA_CPP_QUANTS:
        write(path, quant)
        return None
    from .llama_quantize import quantize_gguf

    f16_path = path.with_name(path.name.replace(f"-{quant}.gguf", "-f16.gguf")) if keep_f16 else path.with_name(f".{path.stem}.f16-source.gguf")
    write(f16_path, "f16")
    try:
        quantize_gguf(f16_path, path, quant, threads)
    finally:
        if not keep_f16:
            f16_path.unlink(missing_ok=True)
    return f16_path if keep_f16 else None


def check_llama_cpp(quant: str) -> None:
    """Fail before any slow write when a k-quant is asked for and llama.cpp cannot be loaded."""
    from .export_gguf import LLAMA_CPP_QUANTS

    if quant in LLAMA_CPP_QUANTS:
        from .llama_quantize import default_params, load_library

        default_params(load_library())


def export_gguf(info: dict[str, Any], out: Path, quant: str, keep_f16: bool = False, threads: int = 0) -> dict[str, Any]:
    from .export_gguf import check_quant, gguf_base_heads, write_lora_gguf, write_merged_from_gguf, write_model_gguf

    check_quant(quant)
    check_llama_cpp(quant)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"format": "gguf", "quant": quant, "adapter_gguf": None}
    base = info["base"]
    merged_path = out / f"model-{quant}.gguf"

    def record_f16(key: str, kept: Path | None) -> None:
        if kept is not None:
            result[key] = str(kept)

    if base.endswith(".gguf"):
        base_gguf = Path(base).expanduser().resolve()
        if not base_gguf.exists():
            raise WorkerError("bad_config", f"base model `{base_gguf}` does not exist", "--model", ExitCode.BAD_CONFIG)
        result["base_gguf"] = str(base_gguf)
        if info["adapter"] is not None:
            n_head, n_head_kv = gguf_base_heads(base_gguf)
            result["adapter_gguf"] = str(write_lora_gguf(info["adapter"], out / "adapter.gguf", n_head, n_head_kv, {"name": info["name"]}))
            kept = write_in_quant(merged_path, quant, lambda path, kind: write_merged_from_gguf(base_gguf, info["adapter"], path, kind, info["name"]), keep_f16, threads)
        else:
            model, tokenizer, _ = load_hf(str(info["merged"]), None)
            pre = _gguf_pre_of(base_gguf)
            kept = write_in_quant(
                merged_path,
                quant,
                lambda path, kind: write_model_gguf(model.state_dict(), model.config, tokenizer, info["merged"], path, kind, info["name"], pre=pre),
                keep_f16,
                threads,
            )
        record_f16("merged_f16_gguf", kept)
        result["merged_gguf"] = str(merged_path)
        return result
    # a Hugging Face base: write the base too, so the adapter has a GGUF base to apply to
    if info["adapter"] is not None:
        base_model, base_tokenizer, base_tokenizer_dir = load_hf(base, None)
        base_path = out / f"base-{quant}.gguf"
        kept = write_in_quant(
            base_path,
            quant,
            lambda path, kind: write_model_gguf(base_model.state_dict(), base_model.config, base_tokenizer, base_tokenizer_dir, path, kind, Path(base).name),
            keep_f16,
            threads,
        )
        record_f16("base_f16_gguf", kept)
        result["base_gguf"] = str(base_path)
        config = base_model.config
        n_head = config.num_attention_heads
        del base_model
        result["adapter_gguf"] = str(write_lora_gguf(info["adapter"], out / "adapter.gguf", n_head, getattr(config, "num_key_value_heads", None) or n_head, {"name": info["name"]}))
        model, tokenizer, tokenizer_dir = load_hf(base, info["adapter"])
    else:
        result["base_gguf"] = None
        model, tokenizer, tokenizer_dir = load_hf(str(info["merged"]), None)
    kept = write_in_quant(
        merged_path, quant, lambda path, kind: write_model_gguf(model.state_dict(), model.config, tokenizer, tokenizer_dir, path, kind, info["name"]), keep_f16, threads
    )
    record_f16("merged_f16_gguf", kept)
    result["merged_gguf"] = str(merged_path)
    return result


def export_adapter_only(info: dict[str, Any], out: Path, quant: str = "f16") -> dict[str, Any]:
    """Just `adapter.gguf`: what a server needs to put a fine-tuned adapter on its GGUF base."""
    from .export_gguf import gguf_base_heads, write_lora_gguf

    if quant not in ("f16", "f32"):
        raise WorkerError(
            "bad_config",
            f"a LoRA adapter GGUF is not quantized (`--quant {quant}`): its small A/B matrices stay f32 and apply to a quantized base; quantize the base or export `--format gguf` for a quantized merged model",
            "--quant",
            ExitCode.BAD_CONFIG,
        )
    if info["adapter"] is None:
        raise WorkerError("bad_config", "this run trained the full model (no LoRA adapter); export it with `--format gguf`", "run", ExitCode.BAD_CONFIG)
    base = info["base"]
    if base.endswith(".gguf"):
        n_head, n_head_kv = gguf_base_heads(Path(base).expanduser().resolve())
    else:
        from transformers import AutoConfig

        from .model_loading import _source

        config = AutoConfig.from_pretrained(_source(base)[0])
        n_head = config.num_attention_heads
        n_head_kv = getattr(config, "num_key_value_heads", None) or n_head
    path = write_lora_gguf(info["adapter"], out / "adapter.gguf", n_head, n_head_kv, {"name": info["name"]})
    return {"format": "gguf-adapter", "adapter_gguf": str(path), "base": base}


def export_ollama(info: dict[str, Any], out: Path, quant: str, keep_f16: bool = False, threads: int = 0) -> dict[str, Any]:
    from .export_ollama import write_modelfiles

    result = export_gguf(info, out, quant, keep_f16, threads)
    result.update(write_modelfiles(out, result))
    result["format"] = "ollama"
    return result


def export_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tunekit_worker export")
    parser.add_argument("run_dir")
    parser.add_argument("--format", choices=("hf", "gguf", "ollama", "gguf-adapter"), required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quant", default="f16")
    parser.add_argument("--model", default=None, help="the base model, when the run folder does not say")
    parser.add_argument("--keep-f16", action="store_true", help="with a k-quant: keep the f16 GGUF llama.cpp quantized from")
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp quantization threads (0: all cores)")
    args = parser.parse_args(argv)

    def work() -> dict[str, Any]:
        info = run_info(Path(args.run_dir).resolve(), args.model)
        out = Path(args.out).resolve()
        if args.format == "hf":
            return export_hf(info, out)
        if args.format == "gguf":
            return export_gguf(info, out, args.quant, args.keep_f16, args.threads)
        if args.format == "gguf-adapter":
            return export_adapter_only(info, out, args.quant)
        return export_ollama(info, out, args.quant, args.keep_f16, args.threads)

    return _answer(work)


def convert_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tunekit_worker convert-gguf")
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--quant", default="f32")
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp quantization threads (0: all cores)")
    args = parser.parse_args(argv)

    def work() -> dict[str, Any]:
        from .export_gguf import check_quant, write_model_gguf

        check_quant(args.quant)
        check_llama_cpp(args.quant)
        model, tokenizer, tokenizer_dir = load_hf(args.model, None)
        path = Path(args.out).resolve()
        write_in_quant(
            path,
            args.quant,
            lambda target, kind: write_model_gguf(model.state_dict(), model.config, tokenizer, tokenizer_dir, target, kind, Path(args.model).name),
            threads=args.threads,
        )
        return {"format": "gguf", "quant": args.quant, "merged_gguf": str(path)}

    return _answer(work)


def _answer(work: Any) -> int:
    try:
        result = work()
    except WorkerError as error:
        print(json.dumps({"error": {"code": error.code, "message": error.message, "field": error.field}}), flush=True)
        return error.exit_code
    except Exception as error:
        print(json.dumps({"error": {"code": "internal", "message": f"{type(error).__name__}: {error}", "field": None}}), flush=True)
        raise
    print(json.dumps(result), flush=True)
    return 0


def copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True)


if __name__ == "__main__":
    sys.exit(export_main(sys.argv[1:]))
