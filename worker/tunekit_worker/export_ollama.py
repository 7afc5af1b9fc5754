"""Ollama Modelfiles for an exported GGUF: the model's chat template translated to Ollama's Go template
(ChatML and Llama 3 families), its default system prompt, and `PARAMETER stop` for every end-of-turn
token so generation stops at the end of the assistant's turn."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

CHATML_TEMPLATE = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
LLAMA3_TEMPLATE = (
    "<|begin_of_text|>{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
)
FAMILIES = {
    "chatml": (CHATML_TEMPLATE, ["<|im_start|>", "<|im_end|>"]),
    "llama3": (LLAMA3_TEMPLATE, ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]),
}


def template_family(chat_template: str | None) -> str | None:
    if not chat_template:
        return None
    if "<|im_start|>" in chat_template:
        return "chatml"
    if "<|start_header_id|>" in chat_template:
        return "llama3"
    return None


def default_system_prompt(chat_template: str, eos_token: str) -> str | None:
    """The system message the template inserts when the conversation has none (SmolLM2 does)."""
    try:
        import jinja2

        environment = jinja2.Environment(loader=jinja2.BaseLoader())
        rendered = environment.from_string(chat_template).render(messages=[{"role": "user", "content": "__user__"}], add_generation_prompt=False, bos_token="", eos_token=eos_token)
    except Exception:
        return None
    for marker, end in (("<|im_start|>system\n", "<|im_end|>"), ("<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>")):
        start = rendered.find(marker)
        if start != -1 and start < rendered.find("__user__"):
            return rendered[start + len(marker) : rendered.index(end, start)]
    return None


def gguf_chat_settings(path: Path) -> tuple[str | None, str | None]:
    """(chat template, eos token text) from a GGUF's tokenizer metadata."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    template = reader.fields.get("tokenizer.chat_template")
    eos_id = reader.fields.get("tokenizer.ggml.eos_token_id")
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    eos = str(tokens.contents(int(eos_id.contents()))) if eos_id is not None and tokens is not None else None
    return (str(template.contents()) if template is not None else None), eos


def modelfile_text(from_path: str, adapter_path: str | None, family: str | None, stops: list[str], system: str | None) -> str:
    lines = [f"FROM {from_path}"]
    if adapter_path:
        lines.append(f"ADAPTER {adapter_path}")
    if family:
        template, _ = FAMILIES[family]
        lines.append(f'TEMPLATE """{template}"""')
    if system:
        lines.append(f"SYSTEM {json.dumps(system)}")
    for stop in stops:
        lines.append(f"PARAMETER stop {json.dumps(stop)}")
    lines.append("PARAMETER temperature 0")
    return "\n".join(lines) + "\n"


def write_modelfiles(out: Path, exported: dict[str, Any]) -> dict[str, Any]:
    """Modelfiles from the exported merged GGUF's own template and end-of-turn token."""
    merged = Path(exported["merged_gguf"])
    chat_template, eos_token = gguf_chat_settings(merged)
    family = template_family(chat_template)
    if family is None:
        print("warning: the chat template is not ChatML or Llama 3; the Modelfile has no TEMPLATE (Ollama falls back to the GGUF's)", file=sys.stderr)
    stops = list(FAMILIES[family][1]) if family else []
    if eos_token and eos_token not in stops:
        stops.append(eos_token)
    system = default_system_prompt(chat_template, eos_token or "") if family and chat_template else None
    result: dict[str, Any] = {"template_family": family, "stop": stops}
    (out / "Modelfile").write_text(modelfile_text(f"./{merged.name}", None, family, stops, system))
    result["modelfile"] = str(out / "Modelfile")
    if exported.get("adapter_gguf") and exported.get("base_gguf"):
        base = Path(exported["base_gguf"])
        base_ref = f"./{base.name}" if base.parent == out else str(base)
        (out / "Modelfile.adapter").write_text(modelfile_text(base_ref, "./adapter.gguf", family, stops, system))
        result["modelfile_adapter"] = str(out / "Modelfile.adapter")
    return result
