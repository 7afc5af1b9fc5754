"""The OpenAI contract of `tunekit server`, driven through the official Python SDK (`openai`).

Run by test/python-sdk-contract.test.ts with the `tunekit setup` venv's python:

    .venv/bin/python test/python/openai_sdk_contract.py BASE_URL API_KEY MODEL

BASE_URL is the server's root (http://127.0.0.1:PORT, without /v1), API_KEY a key of one of its
projects, MODEL a base model it trains and serves. The server must train with tiny settings
(`max_steps` of a few steps) and serve chat with one slot and a queue of one (`parallelism: 1`,
`maxQueue: 1`): the script provokes a 429 by holding that slot.

Tools: the server's models do not call tools, so `tools` (and `logprobs`) are refused with a
BadRequestError naming the field rather than silently ignored; the script checks that refusal.

Every check is an assertion: the first that fails ends the script with exit status 1 and a
`contract failed: ...` line on stderr. Progress goes to stderr; stdout gets one JSON summary line
at the end (ids and counts the TypeScript side checks against the server).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import openai
from openai import AzureOpenAI, OpenAI
from openai.types.chat import ChatCompletionMessageParam
from openai.types.fine_tuning import FineTuningJob
from pydantic import BaseModel, ValidationError

AZURE_API_VERSION = "2024-10-21"
SYSTEM_PROMPT = "You answer with one sentence."
THINGS = ["apple", "sky", "grass", "banana", "coal", "snow", "plum", "carrot"]
TERMINAL_STATUSES = {"succeeded", "failed", "cancelled"}
# a JSON array of at least 500 items: the grammar forbids ending the turn earlier, so the request
# holds the model's only slot for a while, whatever the random weights prefer
LONG_ANSWER: dict[str, Any] = {"type": "json_schema", "json_schema": {"name": "long", "schema": {"type": "array", "items": {"const": "red"}, "minItems": 500}}}
FRUIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"color": {"type": "string", "enum": ["red", "blue", "green"]}, "ripe": {"type": "boolean"}},
    "required": ["color", "ripe"],
    "additionalProperties": False,
}

Result = TypeVar("Result")


class ContractFailure(AssertionError):
    """A check of the contract did not hold."""


class FruitAnswer(BaseModel):
    """The structured answer `chat.completions.parse` asks for (a strict json_schema from pydantic)."""

    color: Literal["red", "blue", "green"]
    ripe: bool


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ContractFailure(message)


def expect_equal(actual: object, expected: object, what: str) -> None:
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def expect_error(error_type: type[openai.APIStatusError], what: str, call: Callable[[], object]) -> openai.APIStatusError:
    """Run `call`, which must raise `error_type`; return the error."""
    try:
        answer = call()
    except error_type as error:
        return error
    except openai.APIStatusError as error:
        raise ContractFailure(f"{what}: expected {error_type.__name__}, got {type(error).__name__} ({error.status_code}): {error.message}") from error
    raise ContractFailure(f"{what}: expected {error_type.__name__}, but the call answered {answer!r}"[:600])


def parses_strictly(*values: openai.BaseModel) -> None:
    """The SDK builds its objects without validating them: validating each again finds a field of
    the wrong type, or a required one missing, that the SDK would otherwise hand on silently."""
    for value in values:
        try:
            type(value).model_validate(value.to_dict())
        except ValidationError as error:
            raise ContractFailure(f"{type(value).__name__} does not fit the SDK's type: {error}") from error


def log(message: str) -> None:
    print(f"[python-sdk] {message}", file=sys.stderr, flush=True)


def wait_for(what: str, probe: Callable[[], Result | None], timeout_s: float = 150.0, interval_s: float = 0.1) -> Result:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(interval_s)
    raise ContractFailure(f"timed out after {timeout_s:.0f} s waiting for {what}")


def training_jsonl() -> bytes:
    lines = []
    for thing in THINGS * 2:
        example = {
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"What color is the {thing}?"},
                {"role": "assistant", "content": f"The {thing} is red."},
            ]
        }
        lines.append(json.dumps(example))
    return ("\n".join(lines) + "\n").encode()


def ask(thing: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": f"What color is the {thing}?"}]


@dataclass
class PauseWatcher:
    """Pauses a job the moment the scheduler starts it (from a thread, while the script does other work)."""

    client: OpenAI
    job_id: str
    paused: FineTuningJob | None = None
    failure: BaseException | None = None
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self.run, name="pause-watcher", daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            wait_for(f"job {self.job_id} to start running", self.running, interval_s=0.05)
            self.paused = self.client.fine_tuning.jobs.pause(self.job_id)
        except BaseException as error:  # handed to the main thread by `result`
            self.failure = error

    def running(self) -> bool | None:
        status = self.client.fine_tuning.jobs.retrieve(self.job_id).status
        check(status not in TERMINAL_STATUSES, f"job {self.job_id} became {status} before it could be paused")
        return True if status == "running" else None

    def result(self) -> FineTuningJob:
        self.thread.join(timeout=170)
        if self.failure is not None:
            raise self.failure
        check(self.paused is not None, f"job {self.job_id} was never paused")
        assert self.paused is not None
        return self.paused


class ContractRun:
    def __init__(self, base_url: str, api_key: str, model: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.client = OpenAI(base_url=f"{self.base_url}/v1", api_key=api_key, max_retries=0)
        self.azure = AzureOpenAI(azure_endpoint=self.base_url, api_key=api_key, api_version=AZURE_API_VERSION, max_retries=0)
        self.summary: dict[str, Any] = {"errors": {}}
        # tells this run's jobs apart from earlier runs' on the same server (the metadata filter)
        self.run_token = uuid.uuid4().hex[:12]
        self.started = time.monotonic()

    def step(self, name: str) -> None:
        log(f"{time.monotonic() - self.started:6.1f} s  {name}")

    def run(self) -> dict[str, Any]:
        self.step("authentication")
        self.authentication_errors()
        self.step("files")
        training_file_id = self.files()
        self.step("jobs: create")
        trained_job, paused_job = self.create_jobs(training_file_id)
        watcher = PauseWatcher(self.client, paused_job.id)
        self.step("files: a file live jobs use")
        self.delete_file_in_use(training_file_id)
        self.step("jobs: typed errors")
        self.job_errors(training_file_id)
        self.step("models")
        self.base_models()
        self.step("chat: plain, streamed, [DONE]")
        self.chat_plain_and_streamed()
        self.step("chat: response_format json_schema, parse")
        self.chat_structured()
        self.step("chat: typed errors")
        self.chat_errors()
        self.step("chat: a full queue (429)")
        self.rate_limit()
        self.step("azure: files, chat through a deployment")
        self.azure_files_and_chat(training_file_id)
        self.step("jobs: pause, resume, cancel")
        self.pause_resume_cancel(watcher)
        self.step("jobs: wait for the trained job")
        self.trained_job(trained_job.id, training_file_id)
        self.step("jobs: list with auto-paging")
        self.list_jobs(trained_job.id, paused_job.id)
        self.step("azure: a job")
        self.azure_job(trained_job.id)
        self.step("files: delete once no live job uses it")
        deleted = self.client.files.delete(training_file_id)
        check(deleted.deleted and deleted.id == training_file_id, f"deleting the training file after its jobs ended: {deleted!r}")
        expect_error(openai.NotFoundError, "retrieving a deleted file", lambda: self.client.files.retrieve(training_file_id))
        self.summary["seconds"] = round(time.monotonic() - self.started, 1)
        self.step("done")
        return self.summary

    # --- errors that need no resources -------------------------------------------------------

    def authentication_errors(self) -> None:
        wrong = OpenAI(base_url=f"{self.base_url}/v1", api_key="tk-wrong-key", max_retries=0)
        error = expect_error(openai.AuthenticationError, "a wrong API key", lambda: wrong.models.list())
        expect_equal(error.status_code, 401, "status of a wrong key")
        expect_equal(error.code, "invalid_api_key", "code of a wrong key")
        expect_equal(error.type, "invalid_request_error", "type of a wrong key")
        wrong_azure = AzureOpenAI(azure_endpoint=self.base_url, api_key="tk-wrong-key", api_version=AZURE_API_VERSION, max_retries=0)
        azure_error = expect_error(openai.AuthenticationError, "a wrong `api-key` on the Azure URL shape", lambda: wrong_azure.files.list())
        expect_equal(azure_error.code, "invalid_api_key", "code of a wrong Azure key")
        self.summary["errors"]["AuthenticationError"] = error.code

    # --- files -------------------------------------------------------------------------------

    def files(self) -> str:
        content = training_jsonl()
        training = self.client.files.create(file=("colors.jsonl", content), purpose="fine-tune")
        expect_equal(training.object, "file", "file object")
        expect_equal(training.purpose, "fine-tune", "file purpose")
        expect_equal(training.filename, "colors.jsonl", "file name")
        expect_equal(training.bytes, len(content), "file bytes")
        expect_equal(training.status, "processed", "file status")
        check(training.id.startswith("file-"), f"file id {training.id!r} starts with file-")
        check(isinstance(training.created_at, int) and training.created_at > 0, f"file created_at {training.created_at!r}")
        parses_strictly(training)

        scratch_content = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'
        scratch = self.client.files.create(file=("scratch.jsonl", scratch_content), purpose="fine-tune")

        # auto-paging one file per page, newest first, then oldest first
        listed = list(self.client.files.list(limit=1))
        newest_first = [file.id for file in listed]
        check(newest_first.index(scratch.id) < newest_first.index(training.id), f"files newest first: {newest_first}")
        check(len(newest_first) == len(set(newest_first)), f"auto-paged files repeat: {newest_first}")
        oldest_first = [file.id for file in self.client.files.list(limit=1, order="asc")]
        expect_equal(oldest_first, list(reversed(newest_first)), "files with order=asc")
        expect_equal([file.id for file in self.client.files.list(purpose="fine-tune")], [file.id for file in listed if file.purpose == "fine-tune"], "files filtered by purpose")
        expect_equal(len(self.client.files.list(limit=1).data), 1, "a page of one file")

        retrieved = self.client.files.retrieve(training.id)
        expect_equal(retrieved.model_dump(), training.model_dump(), "retrieved file")
        expect_equal(self.client.files.content(training.id).content, content, "file content (bytes)")
        expect_equal(self.client.files.content(scratch.id).text, scratch_content.decode(), "file content (text)")

        deleted = self.client.files.delete(scratch.id)
        expect_equal((deleted.id, deleted.object, deleted.deleted), (scratch.id, "file", True), "deleted file")
        parses_strictly(deleted)
        expect_error(openai.NotFoundError, "retrieving a deleted file", lambda: self.client.files.retrieve(scratch.id))
        expect_error(openai.NotFoundError, "content of a deleted file", lambda: self.client.files.content(scratch.id))

        wrong_purpose = expect_error(openai.BadRequestError, "an upload with purpose batch", lambda: self.client.files.create(file=("x.jsonl", content), purpose="batch"))
        expect_equal(wrong_purpose.param, "purpose", "param of a wrong purpose")
        self.summary["training_file_id"] = training.id
        self.summary["deleted_file_id"] = scratch.id
        self.summary["files_listed"] = len(newest_first)
        return training.id

    def delete_file_in_use(self, training_file_id: str) -> None:
        error = expect_error(openai.ConflictError, "deleting a file a live job uses", lambda: self.client.files.delete(training_file_id))
        expect_equal(error.status_code, 409, "status of deleting a file in use")
        expect_equal(error.response.headers.get("x-should-retry"), "false", "x-should-retry of a 409")
        self.summary["errors"]["ConflictError"] = error.code

    # --- jobs --------------------------------------------------------------------------------

    def create_jobs(self, training_file_id: str) -> tuple[FineTuningJob, FineTuningJob]:
        trained = self.client.fine_tuning.jobs.create(
            model=self.model,
            training_file=training_file_id,
            suffix="sdkpy",
            seed=7,
            metadata={"suite": "python-sdk", "run": self.run_token, "role": "train"},
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4}}},
        )
        expect_equal(trained.object, "fine_tuning.job", "job object")
        check(trained.id.startswith("ftjob-"), f"job id {trained.id!r} starts with ftjob-")
        check(trained.status in ("validating_files", "queued"), f"a new job's status: {trained.status}")
        expect_equal(trained.model, self.model, "job model")
        expect_equal(trained.training_file, training_file_id, "job training_file")
        expect_equal(trained.fine_tuned_model, None, "a new job's fine_tuned_model")
        expect_equal(trained.seed, 7, "job seed")
        expect_equal(trained.user_provided_suffix, "sdkpy", "job suffix")
        expect_equal(trained.metadata, {"suite": "python-sdk", "run": self.run_token, "role": "train"}, "job metadata")
        check(trained.method is not None and trained.method.type == "supervised", f"job method: {trained.method!r}")
        assert trained.method is not None and trained.method.supervised is not None and trained.method.supervised.hyperparameters is not None
        expect_equal(trained.method.supervised.hyperparameters.n_epochs, 2, "method n_epochs")
        expect_equal(trained.method.supervised.hyperparameters.batch_size, 4, "method batch_size")
        expect_equal(self.client.fine_tuning.jobs.retrieve(trained.id).id, trained.id, "retrieved job")
        parses_strictly(trained)

        # the second job waits for the only training slot; it is paused as soon as it runs
        paused = self.client.fine_tuning.jobs.create(model=self.model, training_file=training_file_id, metadata={"suite": "python-sdk", "run": self.run_token, "role": "pause"})
        check(isinstance(paused.seed, int), f"a job without a seed draws one: {paused.seed!r}")
        return trained, paused

    def job_errors(self, training_file_id: str) -> None:
        missing = expect_error(openai.NotFoundError, "retrieving an unknown job", lambda: self.client.fine_tuning.jobs.retrieve("ftjob-doesnotexist000000"))
        expect_equal(missing.status_code, 404, "status of an unknown job")
        expect_error(openai.NotFoundError, "events of an unknown job", lambda: list(self.client.fine_tuning.jobs.list_events("ftjob-doesnotexist000000")))
        expect_error(openai.NotFoundError, "cancelling an unknown job", lambda: self.client.fine_tuning.jobs.cancel("ftjob-doesnotexist000000"))
        unknown_file = expect_error(openai.NotFoundError, "a job on an unknown file", lambda: self.client.fine_tuning.jobs.create(model=self.model, training_file="file-doesnotexist000000"))
        expect_equal(unknown_file.param, "training_file", "param of an unknown training file")
        self.summary["errors"]["NotFoundError"] = missing.code

        bad_epochs = expect_error(
            openai.BadRequestError,
            "a job with n_epochs 0",
            lambda: self.client.fine_tuning.jobs.create(model=self.model, training_file=training_file_id, method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 0}}}),
        )
        expect_equal(bad_epochs.status_code, 400, "status of n_epochs 0")
        check(bad_epochs.param is not None and bad_epochs.param.endswith("n_epochs"), f"param of n_epochs 0 names n_epochs: {bad_epochs.param!r}")
        bad_model = expect_error(openai.BadRequestError, "a job on an unknown model", lambda: self.client.fine_tuning.jobs.create(model="no-such-model", training_file=training_file_id))
        expect_equal(bad_model.param, "model", "param of an unknown model")
        bad_suffix = expect_error(openai.BadRequestError, "a suffix with spaces", lambda: self.client.fine_tuning.jobs.create(model=self.model, training_file=training_file_id, suffix="has spaces"))
        expect_equal(bad_suffix.param, "suffix", "param of a bad suffix")
        bad_limit = expect_error(openai.BadRequestError, "listing jobs with limit 0", lambda: self.client.fine_tuning.jobs.list(limit=0))
        expect_equal(bad_limit.param, "limit", "param of limit 0")
        self.summary["errors"]["BadRequestError"] = bad_epochs.param

    def pause_resume_cancel(self, watcher: PauseWatcher) -> None:
        paused = watcher.result()
        job_id = paused.id
        expect_equal(paused.status, "paused", "status answered by pause")
        expect_equal(self.client.fine_tuning.jobs.retrieve(job_id).status, "paused", "status after pause")
        again = expect_error(openai.ConflictError, "pausing a paused job", lambda: self.client.fine_tuning.jobs.pause(job_id))
        expect_equal(again.code, "invalid_state_transition", "code of pausing a paused job")
        resumed = self.client.fine_tuning.jobs.resume(job_id)
        expect_equal(resumed.status, "queued", "status answered by resume")
        cancelled = self.client.fine_tuning.jobs.cancel(job_id)
        expect_equal(cancelled.status, "cancelled", "status answered by cancel")
        check(cancelled.finished_at is not None, "a cancelled job has finished_at")
        twice = expect_error(openai.ConflictError, "cancelling a cancelled job", lambda: self.client.fine_tuning.jobs.cancel(job_id))
        expect_equal(twice.code, "invalid_state_transition", "code of cancelling a cancelled job")
        expect_equal(twice.type, "invalid_request_error", "type of cancelling a cancelled job")
        expect_error(openai.ConflictError, "resuming a cancelled job", lambda: self.client.fine_tuning.jobs.resume(job_id))
        messages = [event.message for event in self.client.fine_tuning.jobs.list_events(job_id, limit=100)]
        check(any(message.startswith("Pausing") for message in messages), f"a pause event: {messages}")
        check(any(message.startswith("Resumed") for message in messages), f"a resume event: {messages}")
        check("Fine-tuning job cancelled" in messages, f"the cancel event: {messages}")
        self.summary["paused_job_id"] = job_id
        self.summary["paused_job_events"] = len(messages)

    def trained_job(self, job_id: str, training_file_id: str) -> None:
        def ended() -> FineTuningJob | None:
            job = self.client.fine_tuning.jobs.retrieve(job_id)
            if job.status not in TERMINAL_STATUSES:
                return None
            # a succeeded job gets its result file, then its last event, just after the status
            if job.status == "succeeded" and self.client.fine_tuning.jobs.list_events(job_id, limit=1).data[0].message != "The job has successfully completed":
                return None
            return job

        wait_for(f"job {job_id} to end", ended, interval_s=0.25)
        job = self.client.fine_tuning.jobs.retrieve(job_id)
        events = list(self.client.fine_tuning.jobs.list_events(job_id, limit=2))
        messages = [event.message for event in events]
        expect_equal(job.status, "succeeded", f"status of the trained job (events, newest first: {messages})")
        expect_equal(job.fine_tuned_model, f"ft:{self.model}:sdkpy:{job_id[-8:]}", "fine_tuned_model")
        check(job.trained_tokens is not None and job.trained_tokens > 0, f"trained_tokens: {job.trained_tokens!r}")
        check(job.finished_at is not None and job.finished_at >= job.created_at, f"finished_at: {job.finished_at!r}")
        expect_equal(job.seed, 7, "seed of the trained job")
        check(isinstance(job.hyperparameters.batch_size, int), f"resolved batch_size: {job.hyperparameters.batch_size!r}")
        parses_strictly(job, *events)

        # list_events auto-paging, two per page: every event once, newest first, same as one big page
        check(len(events) > 4, f"events of a trained job: {messages}")
        ids = [event.id for event in events]
        check(len(ids) == len(set(ids)), f"auto-paged events repeat: {ids}")
        check(all(event.object == "fine_tuning.job.event" and event.id.startswith("ftevent-") for event in events), "event objects and ids")
        created = [event.created_at for event in events]
        expect_equal(created, sorted(created, reverse=True), "events newest first")
        expect_equal(ids, [event.id for event in self.client.fine_tuning.jobs.list_events(job_id, limit=100).data], "auto-paged events vs one page")
        pages = list(self.client.fine_tuning.jobs.list_events(job_id, limit=2).iter_pages())
        expect_equal(len(pages), (len(events) + 1) // 2, "pages of two events")
        check(f"Validating training file: {training_file_id}" in messages, f"the validation event: {messages}")
        check("The job has successfully completed" in messages, f"the completion event: {messages}")
        metrics = [event for event in events if event.type == "metrics" and isinstance(event.data, dict) and "train_loss" in event.data]
        check(len(metrics) > 0, f"metrics events: {messages}")

        checkpoints = list(self.client.fine_tuning.jobs.checkpoints.list(job_id, limit=1))
        check(len(checkpoints) >= 1, "the trained job has checkpoints")
        for checkpoint in checkpoints:
            expect_equal(checkpoint.object, "fine_tuning.job.checkpoint", "checkpoint object")
            check(checkpoint.id.startswith("ftckpt-"), f"checkpoint id {checkpoint.id!r}")
            expect_equal(checkpoint.fine_tuning_job_id, job_id, "checkpoint job")
            expect_equal(checkpoint.fine_tuned_model_checkpoint, f"{job.fine_tuned_model}:ckpt-step-{checkpoint.step_number}", "checkpoint model id")
            check(checkpoint.metrics.train_loss is not None and checkpoint.metrics.train_loss > 0, f"checkpoint train_loss: {checkpoint.metrics!r}")
        steps = [checkpoint.step_number for checkpoint in checkpoints]
        expect_equal(steps, sorted(steps, reverse=True), "checkpoints newest first")
        parses_strictly(*checkpoints)
        # a checkpoint's model id is a model too (LoRA checkpoints are served)
        from_checkpoint = self.client.chat.completions.create(model=checkpoints[-1].fine_tuned_model_checkpoint, messages=ask("apple"), max_tokens=4, temperature=0)
        expect_equal(from_checkpoint.model, checkpoints[-1].fine_tuned_model_checkpoint, "model of a checkpoint's completion")

        expect_equal(len(job.result_files), 1, "result files")
        result_csv = self.client.files.content(job.result_files[0]).text
        check(result_csv.startswith("step,train_loss"), f"result file: {result_csv[:80]!r}")
        expect_equal(self.client.files.retrieve(job.result_files[0]).purpose, "fine-tune-results", "result file purpose")

        assert job.fine_tuned_model is not None
        model_ids = [model.id for model in self.client.models.list()]
        check(job.fine_tuned_model in model_ids, f"the fine-tuned model is listed: {model_ids}")
        tuned = self.client.models.retrieve(job.fine_tuned_model)
        expect_equal((tuned.id, tuned.object), (job.fine_tuned_model, "model"), "retrieved fine-tuned model")
        parses_strictly(tuned)

        self.summary["succeeded_job_id"] = job_id
        self.summary["fine_tuned_model"] = job.fine_tuned_model
        self.summary["trained_tokens"] = job.trained_tokens
        self.summary["events_listed"] = len(events)
        self.summary["checkpoints_listed"] = len(checkpoints)

    def list_jobs(self, trained_job_id: str, paused_job_id: str) -> None:
        listed = list(self.client.fine_tuning.jobs.list(limit=1))
        ids = [job.id for job in listed]
        check(len(ids) == len(set(ids)), f"auto-paged jobs repeat: {ids}")
        check(ids.index(paused_job_id) < ids.index(trained_job_id), f"jobs newest first: {ids}")
        created = [job.created_at for job in listed]
        expect_equal(created, sorted(created, reverse=True), "jobs newest first")
        first_page = self.client.fine_tuning.jobs.list(limit=1)
        check(first_page.has_more is True and len(first_page.data) == 1, f"a first page of one job: {first_page!r}"[:400])
        expect_equal(len(list(first_page.iter_pages())), len(ids), "pages of one job")
        expect_equal([job.id for job in self.client.fine_tuning.jobs.list(metadata={"run": self.run_token, "role": "pause"})], [paused_job_id], "jobs filtered by metadata")
        self.summary["jobs_listed"] = len(ids)

    # --- models ------------------------------------------------------------------------------

    def base_models(self) -> None:
        models = list(self.client.models.list())
        check(self.model in [model.id for model in models], f"{self.model} is listed: {[model.id for model in models]}")
        check(all(model.object == "model" for model in models), "model objects")
        parses_strictly(*models)
        base = self.client.models.retrieve(self.model)
        expect_equal((base.id, base.object), (self.model, "model"), "retrieved base model")
        expect_error(openai.NotFoundError, "retrieving an unknown model", lambda: self.client.models.retrieve("no-such-model"))

    # --- chat completions --------------------------------------------------------------------

    def chat_plain_and_streamed(self) -> None:
        request: dict[str, Any] = {"model": self.model, "messages": ask("apple"), "max_tokens": 8, "temperature": 0}
        plain = self.client.chat.completions.create(**request)
        expect_equal(plain.object, "chat.completion", "completion object")
        check(plain.id.startswith("chatcmpl-"), f"completion id {plain.id!r}")
        expect_equal(plain.model, self.model, "completion model")
        expect_equal(len(plain.choices), 1, "choices")
        choice = plain.choices[0]
        expect_equal(choice.message.role, "assistant", "message role")
        check(isinstance(choice.message.content, str), f"message content: {choice.message.content!r}")
        check(choice.finish_reason in ("stop", "length"), f"finish_reason: {choice.finish_reason}")
        assert plain.usage is not None
        check(plain.usage.prompt_tokens > 10, f"prompt_tokens: {plain.usage.prompt_tokens}")
        check(0 < plain.usage.completion_tokens <= 8, f"completion_tokens: {plain.usage.completion_tokens}")
        expect_equal(plain.usage.total_tokens, plain.usage.prompt_tokens + plain.usage.completion_tokens, "total_tokens")
        check(plain.created > 0, "created")
        check(plain._request_id is not None and plain._request_id.startswith("req_"), f"x-request-id read by the SDK: {plain._request_id!r}")
        parses_strictly(plain)

        stream = self.client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
        check(len(chunks) >= 3, f"chunks: {len(chunks)}")
        check(all(chunk.object == "chat.completion.chunk" and chunk.id == chunks[0].id for chunk in chunks), "chunk objects share one id")
        expect_equal(chunks[0].choices[0].delta.role, "assistant", "the first chunk's role")
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        expect_equal(text, choice.message.content, "streamed text vs the plain answer (temperature 0)")
        expect_equal(chunks[-2].choices[0].finish_reason, choice.finish_reason, "finish_reason of the last choice chunk")
        usage_chunk = chunks[-1]
        expect_equal(usage_chunk.choices, [], "the usage chunk has no choices")
        assert usage_chunk.usage is not None
        expect_equal(usage_chunk.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}), plain.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}), "streamed usage")
        check(all(chunk.usage is None for chunk in chunks[:-1]), "only the last chunk carries usage")
        parses_strictly(*chunks)

        # the raw event stream, read through the SDK: `data:` lines ending with `data: [DONE]`
        with self.client.chat.completions.with_streaming_response.create(**request, stream=True) as response:
            check(response.headers.get("content-type", "").startswith("text/event-stream"), f"stream content-type: {response.headers.get('content-type')}")
            lines = [line for line in response.iter_lines() if line]
        expect_equal(lines[-1], "data: [DONE]", "the stream's last line")
        check(all(line.startswith("data: ") for line in lines), f"every line is data: {lines[:3]}")
        expect_equal(len(lines) - 1, len(chunks) - 1, "chunks without include_usage (no usage chunk)")
        self.summary["chat_completion_id"] = plain.id
        self.summary["chat_text"] = choice.message.content
        self.summary["stream_chunks"] = len(chunks)

    def chat_structured(self) -> None:
        answer = self.client.chat.completions.create(
            model=self.model,
            messages=ask("banana"),
            temperature=0,
            max_completion_tokens=80,
            response_format={"type": "json_schema", "json_schema": {"name": "fruit", "schema": FRUIT_SCHEMA, "strict": True}},
        )
        choice = answer.choices[0]
        expect_equal(choice.finish_reason, "stop", f"finish_reason of a json_schema answer ({choice.message.content!r})")
        assert choice.message.content is not None
        parsed = json.loads(choice.message.content)
        check(isinstance(parsed, dict) and set(parsed) == {"color", "ripe"}, f"json_schema answer keys: {parsed!r}")
        check(parsed["color"] in ("red", "blue", "green") and isinstance(parsed["ripe"], bool), f"json_schema answer fits: {parsed!r}")

        # the SDK's own structured-output helper: a strict schema from a pydantic model, parsed back
        structured = self.client.chat.completions.parse(model=self.model, messages=ask("plum"), temperature=0, max_completion_tokens=80, response_format=FruitAnswer)
        fruit = structured.choices[0].message.parsed
        check(isinstance(fruit, FruitAnswer), f"parsed answer: {structured.choices[0].message!r}")
        assert fruit is not None

        json_object = self.client.chat.completions.create(model=self.model, messages=ask("coal"), temperature=0, max_tokens=40, response_format={"type": "json_object"})
        content = json_object.choices[0].message.content or ""
        check(content.lstrip().startswith(("{", "[")), f"json_object answer starts as JSON: {content!r}")
        self.summary["structured_answer"] = parsed
        self.summary["parsed_answer"] = fruit.model_dump()

    def chat_errors(self) -> None:
        bad = expect_error(openai.BadRequestError, "temperature 5", lambda: self.client.chat.completions.create(model=self.model, messages=ask("apple"), temperature=5))
        expect_equal(bad.param, "temperature", "param of temperature 5")
        expect_equal(bad.type, "invalid_request_error", "type of temperature 5")
        no_messages = expect_error(openai.BadRequestError, "no messages", lambda: self.client.chat.completions.create(model=self.model, messages=[]))
        expect_equal(no_messages.param, "messages", "param of empty messages")
        missing = expect_error(openai.NotFoundError, "an unknown model", lambda: self.client.chat.completions.create(model="ft:nope:x:12345678", messages=ask("apple")))
        expect_equal(missing.param, "model", "param of an unknown model")
        self.summary["errors"]["chat BadRequestError"] = bad.param
        tool = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}}}
        no_tools = expect_error(openai.BadRequestError, "tools", lambda: self.client.chat.completions.create(model=self.model, messages=ask("apple"), tools=[tool]))  # type: ignore[list-item]
        expect_equal(no_tools.param, "tools", "param of a request with tools")
        check("response_format" in no_tools.message, f"the tools refusal names the way out: {no_tools.message}")
        no_logprobs = expect_error(openai.BadRequestError, "logprobs", lambda: self.client.chat.completions.create(model=self.model, messages=ask("apple"), logprobs=True))
        expect_equal(no_logprobs.param, "logprobs", "param of a request with logprobs")
        check(bool(bad.request_id) and bad.request_id.startswith("req_"), f"errors carry x-request-id: {bad.request_id!r}")

    def rate_limit(self) -> None:
        """One request holds the only slot, one waits in the queue of one, the next is refused with 429."""
        long_stream = self.client.chat.completions.create(model=self.model, messages=ask("grass"), temperature=0, max_tokens=1500, response_format=LONG_ANSWER, stream=True)  # type: ignore[arg-type]
        outcomes: list[tuple[str, object]] = []
        lock = threading.Lock()

        def contend() -> None:
            try:
                answer = self.client.chat.completions.create(model=self.model, messages=ask("apple"), temperature=0, max_tokens=3)
                outcome: tuple[str, object] = ("answered", answer)
            except openai.RateLimitError as error:
                outcome = ("refused", error)
            except BaseException as error:  # reported by the main thread
                outcome = ("failed", error)
            with lock:
                outcomes.append(outcome)

        contenders: list[threading.Thread] = []
        try:
            first = next(iter(long_stream))  # the role chunk: the request has its slot and generates
            expect_equal(first.choices[0].delta.role, "assistant", "the long stream's first chunk")
            for index in range(2):
                contender = threading.Thread(target=contend, name=f"contender-{index}")
                contender.start()
                contenders.append(contender)
            # whichever arrives second finds the slot taken and the queue full
            wait_for("a refused request", lambda: True if any(kind == "refused" for kind, _ in outcomes) else None, timeout_s=30, interval_s=0.01)
        finally:
            # the client goes away: the server stops generating and the waiting request gets the slot
            long_stream.close()
        for contender in contenders:
            contender.join(timeout=60)
        kinds = sorted(kind for kind, _ in outcomes)
        expect_equal(kinds, ["answered", "refused"], f"two requests against a busy slot and a queue of one ({outcomes!r})"[:600])
        refused = next(value for kind, value in outcomes if kind == "refused")
        assert isinstance(refused, openai.RateLimitError)
        expect_equal(refused.status_code, 429, "status of a full queue")
        expect_equal(refused.code, "rate_limit_exceeded", "code of a full queue")
        expect_equal(refused.param, "model", "param of a full queue")
        retry_after = refused.response.headers.get("retry-after")
        check(retry_after is not None and int(retry_after) >= 1, f"Retry-After: {retry_after!r}")
        self.summary["errors"]["RateLimitError"] = refused.code
        self.summary["retry_after"] = int(retry_after or 0)

    # --- the Azure URL shape -----------------------------------------------------------------

    def azure_files_and_chat(self, training_file_id: str) -> None:
        files = [file.id for file in self.azure.files.list()]
        check(training_file_id in files, f"AzureOpenAI lists the training file: {files}")
        expect_equal(self.azure.files.retrieve(training_file_id).id, training_file_id, "AzureOpenAI retrieves a file")
        # chat.completions goes to /openai/deployments/{model}/chat/completions?api-version=...
        raw = self.azure.chat.completions.with_raw_response.create(model=self.model, messages=ask("sky"), max_tokens=5, temperature=0)
        expect_equal(raw.http_request.url.path, f"/openai/deployments/{self.model}/chat/completions", "the Azure chat path")
        expect_equal(raw.http_request.url.params.get("api-version"), AZURE_API_VERSION, "the Azure api-version")
        completion = raw.parse()
        expect_equal(completion.object, "chat.completion", "Azure completion object")
        expect_equal(completion.model, self.model, "Azure completion model (the deployment's)")
        plain = self.client.chat.completions.create(model=self.model, messages=ask("sky"), max_tokens=5, temperature=0)
        expect_equal(completion.choices[0].message.content, plain.choices[0].message.content, "Azure answer vs /v1 answer (temperature 0)")
        streamed = "".join(chunk.choices[0].delta.content or "" for chunk in self.azure.chat.completions.create(model=self.model, messages=ask("sky"), max_tokens=5, temperature=0, stream=True) if chunk.choices)
        expect_equal(streamed, plain.choices[0].message.content, "Azure streamed answer")
        missing = expect_error(openai.NotFoundError, "an Azure deployment of an unknown model", lambda: self.azure.chat.completions.create(model="no-such-deployment", messages=ask("sky")))
        expect_equal(missing.param, "model", "param of an unknown deployment")
        self.summary["azure_chat_model"] = completion.model

    def azure_job(self, job_id: str) -> None:
        job = self.azure.fine_tuning.jobs.retrieve(job_id)
        expect_equal((job.id, job.status), (job_id, "succeeded"), "AzureOpenAI retrieves a job")
        assert job.fine_tuned_model is not None
        # a deployment named by the fine-tuned model's id (`ft:base:suffix:id`, colons and all)
        raw = self.azure.chat.completions.with_raw_response.create(model=job.fine_tuned_model, messages=ask("apple"), max_tokens=4, temperature=0)
        expect_equal(raw.http_request.url.path, f"/openai/deployments/{job.fine_tuned_model}/chat/completions", "the Azure chat path of a fine-tuned model")
        expect_equal(raw.parse().model, job.fine_tuned_model, "model of a fine-tuned deployment's completion")
        azure_events = [event.id for event in self.azure.fine_tuning.jobs.list_events(job_id, limit=3)]
        expect_equal(len(azure_events), self.summary["events_listed"], "AzureOpenAI auto-pages events")
        expect_error(openai.NotFoundError, "AzureOpenAI retrieving an unknown job", lambda: self.azure.fine_tuning.jobs.retrieve("ftjob-doesnotexist000000"))
        self.summary["azure_job_status"] = job.status


def main(arguments: Iterable[str]) -> int:
    values = list(arguments)
    if len(values) != 3:
        print("usage: openai_sdk_contract.py BASE_URL API_KEY MODEL", file=sys.stderr)
        return 2
    base_url, api_key, model = values
    log(f"openai {openai.__version__} against {base_url}")
    try:
        summary = ContractRun(base_url, api_key, model).run()
    except ContractFailure as failure:
        print(f"contract failed: {failure}", file=sys.stderr)
        return 1
    except openai.APIStatusError as error:
        print(f"contract failed: unexpected {type(error).__name__} {error.status_code} from {error.request.method} {error.request.url}: {error.body!r}", file=sys.stderr)
        return 1
    print(json.dumps({"sdk": "openai-python", "version": openai.__version__, **summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
