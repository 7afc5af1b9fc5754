"""A fine-tuning job on a cluster backend, the way a Python user creates one: the official openai SDK
pointed at a Tunekit server, with Tunekit's extension field in extra_body. Prints one JSON line:
the finished job as the SDK returns it and its events' messages, oldest first.

    python test/python/cluster_job.py BASE_URL MODEL TRAIN_JSONL BACKEND
"""

import json
import sys
import time

from openai import OpenAI

base_url, model, train_path, backend = sys.argv[1:5]
client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
with open(train_path, "rb") as train:
    training_file = client.files.create(
        file=("train.jsonl", train), purpose="fine-tune"
    )
job = client.fine_tuning.jobs.create(
    model=model,
    training_file=training_file.id,
    extra_body={"tunekit": {"execution": {"backend": backend}}},
)
deadline = time.monotonic() + 240
while (
    job.status not in ("succeeded", "failed", "cancelled")
    and time.monotonic() < deadline
):
    time.sleep(0.5)
    job = client.fine_tuning.jobs.retrieve(job.id)
events = [
    event.message for event in client.fine_tuning.jobs.list_events(job.id, limit=100)
]
events.reverse()
print(json.dumps({"job": job.model_dump(), "events": events}))
