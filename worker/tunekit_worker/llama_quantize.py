"""GGUF k-quants with llama.cpp's own quantizer, called in-process through ctypes.

gguf-py writes f32/f16/q8_0 but has no Q4_K/Q6_K quantizer. node-llama-cpp ships llama.cpp as shared
libraries (`@node-llama-cpp/<platform>/bins/<platform>/`: libggml-base, libggml, libllama and the CPU
backend variants libggml-cpu-*.so). This module loads them, dependencies first and RTLD_GLOBAL, and calls

    llama_model_quantize_params params = llama_model_quantize_default_params();
    params.ftype = LLAMA_FTYPE_MOSTLY_Q4_K_M;
    llama_model_quantize("model-f16.gguf", "model-q4_k_m.gguf", &params);

which is what `llama-quantize model-f16.gguf model-q4_k_m.gguf Q4_K_M` does: the same per-tensor type
choices (Q4_K, Q6_K for output and half of attn_v/ffn_down, fallbacks for rows not divisible by 256) and
every metadata key (tokenizer, chat template) copied from the input.

The folder comes from `TUNEKIT_LLAMA_LIB_DIR` (the TypeScript side resolves it from node-llama-cpp's
package), else from this repository's node_modules.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import BadConfig, WorkerError

LIBRARY_DIR_VARIABLE = "TUNEKIT_LLAMA_LIB_DIR"
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]

# enum llama_ftype (include/llama.h of the llama.cpp release node-llama-cpp builds)
LLAMA_FTYPE_MOSTLY_Q4_1 = 3
LLAMA_FTYPE_MOSTLY_Q8_0 = 7
LLAMA_FTYPE_MOSTLY_Q4_K_M = 15
# q4_1 is the demo base's type (SmolLM2-135M-Instruct.Q4_1.gguf); bench/serve makes larger bases in it
FILE_TYPES = {"q4_k_m": LLAMA_FTYPE_MOSTLY_Q4_K_M, "q4_1": LLAMA_FTYPE_MOSTLY_Q4_1}
DEFAULT_MAX_BUFFER_SIZE = 8 * 1024 * 1024 * 1024  # LLAMA_QUANT_MAX_BUF_SIZE in src/llama-quant.cpp


class QuantizeParams(ctypes.Structure):
    """`struct llama_model_quantize_params`, field for field as in include/llama.h, plus spare bytes so
    that a release with more trailing fields still writes into memory we own."""

    _fields_ = [
        ("nthread", ctypes.c_int32),
        ("ftype", ctypes.c_int),  # enum llama_ftype
        ("output_tensor_type", ctypes.c_int),  # enum ggml_type
        ("token_embedding_type", ctypes.c_int),  # enum ggml_type
        ("allow_requantize", ctypes.c_bool),
        ("quantize_output_tensor", ctypes.c_bool),
        ("only_copy", ctypes.c_bool),
        ("pure", ctypes.c_bool),
        ("keep_split", ctypes.c_bool),
        ("dry_run", ctypes.c_bool),
        ("imatrix", ctypes.c_void_p),
        ("kv_overrides", ctypes.c_void_p),
        ("tt_overrides", ctypes.c_void_p),
        ("prune_layers", ctypes.c_void_p),
        ("max_buf_size", ctypes.c_size_t),
        ("_spare", ctypes.c_uint8 * 256),
    ]


@dataclass(frozen=True)
class LlamaLibrary:
    folder: Path
    release: str | None
    llama: ctypes.CDLL


_loaded: dict[Path, LlamaLibrary] = {}


def platform_folder_name() -> str:
    """node-llama-cpp's name for this machine's prebuilt binaries (`linux-x64`, `mac-arm64-metal`, ...)."""
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower(), platform.machine().lower())
    if sys.platform == "darwin":
        return f"mac-{machine}-metal" if machine == "arm64" else f"mac-{machine}"
    return f"{'win' if sys.platform == 'win32' else 'linux'}-{machine}"


def library_folder() -> Path | None:
    """The folder holding libllama, or None when neither the variable nor node_modules has one."""
    configured = os.environ.get(LIBRARY_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser().resolve()
    name = platform_folder_name()
    candidate = REPOSITORY_ROOT / "node_modules" / "@node-llama-cpp" / name / "bins" / name
    return candidate if _library_file(candidate, "llama") else None


def _library_file(folder: Path, stem: str) -> Path | None:
    """`libllama.v0.5.0.so`, `libllama.so`, `libllama.dylib` ... (never `libllama-common`)."""
    if not folder.is_dir():
        return None
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.startswith(f"lib{stem}.") and (".so" in name or name.endswith(".dylib")):
            return path
    return None


def _release(folder: Path) -> str | None:
    metadata = folder / "_nlcBuildMetadata.json"
    if not metadata.exists():
        return None
    return (json.loads(metadata.read_text()).get("buildOptions", {}).get("llamaCpp") or {}).get("release")


def load_library(folder: Path | None = None) -> LlamaLibrary:
    """libggml-base, libggml (it loads the CPU backend variants) and libllama, loaded once."""
    folder = folder or library_folder()
    if folder is None or _library_file(folder, "llama") is None:
        raise WorkerError(
            "llama_cpp_missing",
            f"llama.cpp's library was not found (looked in `{folder or 'node_modules/@node-llama-cpp'}`); "
            f"install the npm packages (`npm install`) or set `{LIBRARY_DIR_VARIABLE}` to the folder holding libllama",
            "--quant",
            exit_code=2,
        )
    if folder in _loaded:
        return _loaded[folder]
    libraries = {stem: _library_file(folder, stem) for stem in ("ggml-base", "ggml", "llama")}
    loaded = {stem: ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL) for stem, path in libraries.items() if path is not None}
    ggml, llama = loaded.get("ggml"), loaded["llama"]
    if ggml is not None and hasattr(ggml, "ggml_backend_load_all_from_path"):
        # quantizing runs in ggml-base and needs no backend (same bytes without one, checked); registering
        # this folder's CPU backend keeps llama_backend_init from searching the Python executable's folder
        ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
        ggml.ggml_backend_load_all_from_path.restype = None
        ggml.ggml_backend_load_all_from_path(str(folder).encode())
    llama.llama_backend_init.argtypes = []
    llama.llama_backend_init.restype = None
    llama.llama_backend_init()
    llama.llama_model_quantize_default_params.argtypes = []
    llama.llama_model_quantize_default_params.restype = QuantizeParams
    llama.llama_model_quantize.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(QuantizeParams)]
    llama.llama_model_quantize.restype = ctypes.c_uint32
    library = LlamaLibrary(folder, _release(folder), llama)
    _loaded[folder] = library
    return library


def default_params(library: LlamaLibrary) -> QuantizeParams:
    """The library's defaults, checked against the values the header documents, so a release whose
    struct layout moved is refused instead of being handed a misread struct."""
    params = library.llama.llama_model_quantize_default_params()
    expected = params.nthread == 0 and params.ftype == LLAMA_FTYPE_MOSTLY_Q8_0 and params.quantize_output_tensor and not params.allow_requantize and not params.dry_run
    if not expected or params.max_buf_size != DEFAULT_MAX_BUFFER_SIZE:
        raise WorkerError(
            "llama_cpp_mismatch",
            f"llama.cpp release `{library.release}` in `{library.folder}` has a `llama_model_quantize_params` layout this worker does not know; "
            "export with `--quant f16` and run llama.cpp's `llama-quantize` on it",
            "--quant",
        )
    return params


def quantize_gguf(source: Path, target: Path, quant: str = "q4_k_m", threads: int = 0, folder: Path | None = None) -> Path:
    """Quantize a GGUF model file (f16/f32) to `quant` with llama.cpp; `threads` 0 = all cores."""
    if quant not in FILE_TYPES:
        raise BadConfig(f"llama.cpp quantization to `{quant}` is not wired up; use one of {', '.join(FILE_TYPES)}", "--quant")
    if not source.exists():
        raise BadConfig(f"GGUF file `{source}` does not exist", "model")
    library = load_library(folder)
    params = default_params(library)
    params.ftype = FILE_TYPES[quant]
    params.nthread = threads
    target.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    status = library.llama.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
    if status != 0:
        target.unlink(missing_ok=True)
        raise WorkerError(
            "quantize_failed",
            f"llama.cpp could not quantize `{source.name}` to {quant} (status {status}; its log above on stderr says why); export with `--quant f16` or `--quant q8_0` instead",
            "--quant",
        )
    return target
