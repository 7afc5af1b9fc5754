import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso/router";
import { Notice, Section } from "../components/ui.js";
import { api, authHeaders, errorFromAnswer } from "../lib/api.js";
import { SseParser } from "../lib/event-stream.js";
import { formatNumber } from "../lib/format.js";
import { hostedProviders, loadHostedProviders, splitModelId } from "../lib/hosted.js";
import type { FileObject, FineTuningJob, FineTuningJobCheckpoint, JobRow, ListPage, Model } from "../lib/wire.js";

interface PaneState {
  model: string;
  text: string;
  status: "idle" | "waiting" | "streaming" | "done" | "error";
  error: string | null;
  firstTokenMs: number | null;
  totalMs: number | null;
  promptTokens: number | null;
  completionTokens: number | null;
  prompt: string | null;
}

const emptyPane = (model: string): PaneState => ({
  model,
  text: "",
  status: "idle",
  error: null,
  firstTokenMs: null,
  totalMs: null,
  promptTokens: null,
  completionTokens: null,
  prompt: null,
});

/**
 * Chat with 2 to 4 served models side by side (base, fine-tuned, a checkpoint, or any model id the
 * server serves), one input for all: the same system prompt, sampling settings and seed. Each pane
 * streams and shows its latency, tokens/s and token counts; "Show prompt" shows the exact text the
 * chat template made; "Load an example" takes one from a validation file with its reference answer.
 */
export function PlaygroundScreen() {
  const { query } = useLocation();
  const [models, setModels] = useState<Array<{ id: string; group: string }>>([]);
  const initial = (query.models ?? "").split(",").filter(Boolean);
  const [panes, setPanes] = useState<PaneState[]>(() => [emptyPane(initial[0] ?? ""), emptyPane(initial[1] ?? "")]);
  const [system, setSystem] = useState("");
  const [message, setMessage] = useState("");
  const [temperature, setTemperature] = useState("0");
  const [topP, setTopP] = useState("1");
  const [maxTokens, setMaxTokens] = useState("128");
  const [seed, setSeed] = useState("42");
  const [reference, setReference] = useState<string | null>(null);
  const [files, setFiles] = useState<FileObject[]>([]);
  const [exampleFile, setExampleFile] = useState("");
  const [exampleLine, setExampleLine] = useState("1");
  const [error, setError] = useState<string | null>(null);
  const running = useRef<AbortController | null>(null);

  useEffect(() => {
    void (async () => {
      try {
        const [listed, jobs, fileList] = await Promise.all([
          api<ListPage<Model>>("/v1/models"),
          api<{ data: JobRow[] }>("/v1/tunekit/jobs?limit=20"),
          api<ListPage<FileObject>>("/v1/files?purpose=fine-tune"),
        ]);
        const found: Array<{ id: string; group: string }> = listed.data.map((model) => ({ id: model.id, group: model.id.startsWith("ft:") ? "Fine-tuned" : "Base models" }));
        for (const job of jobs.data.slice(0, 10)) {
          const checkpoints = await api<ListPage<FineTuningJobCheckpoint>>(`/v1/fine_tuning/jobs/${job.id}/checkpoints?limit=20`).catch(() => null);
          for (const checkpoint of checkpoints?.data ?? []) found.push({ id: checkpoint.fine_tuned_model_checkpoint, group: "Checkpoints" });
        }
        // hosted providers: their base models, and this project's fine-tuned models and checkpoints there
        await loadHostedProviders().catch(() => undefined);
        for (const provider of hostedProviders.value.filter((entry) => entry.chat)) {
          const group = `Hosted: ${provider.label}`;
          for (const model of provider.models) found.push({ id: `${provider.name}:${model}`, group });
          const hostedJobs = await api<ListPage<FineTuningJob>>(`/v1/tunekit/hosted/${provider.name}/jobs?limit=20`).catch(() => null);
          for (const job of hostedJobs?.data ?? []) {
            if (job.fine_tuned_model) found.push({ id: `${provider.name}:${job.fine_tuned_model}`, group });
          }
        }
        setModels(found);
        setFiles(fileList.data.filter((file) => file.status === "processed"));
        setPanes((current) => current.map((pane, index) => (pane.model ? pane : { ...pane, model: found[index]?.id ?? found[0]?.id ?? "" })));
      } catch (failure) {
        setError((failure as Error).message);
      }
    })();
  }, []);

  const update = (index: number, patch: Partial<PaneState>) => setPanes((current) => current.map((pane, at) => (at === index ? { ...pane, ...patch } : pane)));
  const messages = () => [...(system.trim() ? [{ role: "system", content: system }] : []), { role: "user", content: message }];

  const send = async () => {
    running.current?.abort();
    const aborter = new AbortController();
    running.current = aborter;
    setError(null);
    const body = {
      messages: messages(),
      temperature: Number(temperature),
      top_p: Number(topP),
      max_tokens: Number(maxTokens),
      seed: seed === "" ? undefined : Number(seed),
      stream: true,
      stream_options: { include_usage: true },
    };
    await Promise.all(panes.map((pane, index) => streamPane(index, pane.model, body, aborter.signal)));
  };

  const streamPane = async (index: number, model: string, body: Record<string, unknown>, signal: AbortSignal) => {
    update(index, { ...emptyPane(model), status: "waiting" });
    const started = performance.now();
    try {
      // a hosted model answers through the server's hosted endpoint, under the provider's own id
      const { provider, model: providerModel } = splitModelId(model);
      const url = provider ? `/v1/tunekit/hosted/${encodeURIComponent(provider)}/chat/completions` : "/v1/chat/completions";
      const response = await fetch(url, {
        method: "POST",
        headers: { ...authHeaders(), "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify({ ...body, model: providerModel }),
        signal,
      });
      if (!response.ok || !response.body) throw errorFromAnswer(response.status, await response.json().catch(() => null));
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser();
      let text = "";
      let firstTokenMs: number | null = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.feed(decoder.decode(value, { stream: true }))) {
          if (event.data === "[DONE]") continue;
          const chunk = JSON.parse(event.data) as {
            choices?: Array<{ delta?: { content?: string } }>;
            usage?: { prompt_tokens: number; completion_tokens: number } | null;
            error?: { message: string };
          };
          if (chunk.error) throw new Error(chunk.error.message);
          const piece = chunk.choices?.[0]?.delta?.content ?? "";
          if (piece) {
            firstTokenMs ??= performance.now() - started;
            text += piece;
            update(index, { text, status: "streaming", firstTokenMs });
          }
          if (chunk.usage) update(index, { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens });
        }
      }
      update(index, { status: "done", totalMs: performance.now() - started, firstTokenMs });
    } catch (failure) {
      if ((failure as Error).name === "AbortError") update(index, { status: "done", totalMs: performance.now() - started });
      else update(index, { status: "error", error: (failure as Error).message });
    }
  };

  const showPrompt = async (index: number) => {
    const { provider } = splitModelId(panes[index]?.model ?? "");
    if (provider) {
      update(index, { error: `${provider} applies its chat template itself: the prompt text it makes is not published.` });
      return;
    }
    try {
      const answer = await api<{ prompt: string; prompt_tokens: number }>("/v1/tunekit/chat/prompt", { body: { model: panes[index]?.model, messages: messages() } });
      update(index, { prompt: answer.prompt, promptTokens: answer.prompt_tokens });
    } catch (failure) {
      update(index, { error: (failure as Error).message });
    }
  };

  const loadExample = async () => {
    if (!exampleFile) return;
    try {
      const answer = await api<{ lines: string[] }>(`/v1/tunekit/files/${exampleFile}/lines?start=${Number(exampleLine) || 1}&count=1`);
      const line = answer.lines[0];
      if (!line) throw new Error(`the file has no line ${exampleLine}`);
      const example = JSON.parse(line) as { messages?: Array<{ role: string; content: string }>; prompt?: string; completion?: string };
      if (example.messages) {
        const last = example.messages.at(-1);
        const before = last?.role === "assistant" ? example.messages.slice(0, -1) : example.messages;
        setSystem(before.find((entry) => entry.role === "system")?.content ?? "");
        setMessage([...before].reverse().find((entry) => entry.role === "user")?.content ?? "");
        setReference(last?.role === "assistant" ? last.content : null);
      } else if (example.prompt !== undefined) {
        setSystem("");
        setMessage(example.prompt);
        setReference(example.completion ?? null);
      }
      setError(null);
    } catch (failure) {
      setError(`Cannot load that example: ${(failure as Error).message}`);
    }
  };

  const groups = [...new Set(models.map((model) => model.group))];
  return (
    <div>
      <div class="page-head">
        <h1>Playground</h1>
        <div class="page-actions">
          <label for="pane-count">Panes</label>
          <select
            id="pane-count"
            value={String(panes.length)}
            onChange={(event) => {
              const count = Number((event.target as HTMLSelectElement).value);
              setPanes((current) => Array.from({ length: count }, (_, index) => current[index] ?? emptyPane(models[index]?.id ?? models[0]?.id ?? "")));
            }}
          >
            {[2, 3, 4].map((count) => (
              <option key={count} value={String(count)}>
                {count}
              </option>
            ))}
          </select>
        </div>
      </div>
      {error ? <Notice>{error}</Notice> : null}
      <Section title="Input for every pane" id="input">
        <form
          onSubmit={(event) => {
            event.preventDefault();
            void send();
          }}
        >
          <div class="field">
            <label for="system-prompt">System prompt</label>
            <textarea id="system-prompt" rows={2} value={system} onInput={(event) => setSystem((event.target as HTMLTextAreaElement).value)} />
          </div>
          <div class="field">
            <label for="user-message">Message</label>
            <textarea id="user-message" rows={4} value={message} onInput={(event) => setMessage((event.target as HTMLTextAreaElement).value)} />
          </div>
          <div class="inline-form">
            <label for="temperature">Temperature</label>
            <input id="temperature" type="number" min="0" max="2" step="0.1" value={temperature} onInput={(event) => setTemperature((event.target as HTMLInputElement).value)} />
            <label for="top-p">Top p</label>
            <input id="top-p" type="number" min="0" max="1" step="0.05" value={topP} onInput={(event) => setTopP((event.target as HTMLInputElement).value)} />
            <label for="max-tokens">Max tokens</label>
            <input id="max-tokens" type="number" min="1" value={maxTokens} onInput={(event) => setMaxTokens((event.target as HTMLInputElement).value)} />
            <label for="seed">Seed</label>
            <input id="seed" type="number" min="0" value={seed} onInput={(event) => setSeed((event.target as HTMLInputElement).value)} />
            <button type="submit" class="button button-primary" disabled={!message.trim() || panes.some((pane) => !pane.model)}>
              Send to all
            </button>
            <button type="button" class="button button-plain" onClick={() => running.current?.abort()}>
              Stop
            </button>
          </div>
        </form>
        <div class="inline-form example-loader">
          <label for="example-file">Load an example from</label>
          <select id="example-file" value={exampleFile} onChange={(event) => setExampleFile((event.target as HTMLSelectElement).value)}>
            <option value="">(pick a file)</option>
            {files.map((file) => (
              <option key={file.id} value={file.id}>
                {file.filename}
              </option>
            ))}
          </select>
          <label for="example-line">line</label>
          <input id="example-line" type="number" min="1" value={exampleLine} onInput={(event) => setExampleLine((event.target as HTMLInputElement).value)} />
          <button type="button" class="button button-plain" disabled={!exampleFile} onClick={() => void loadExample()}>
            Load
          </button>
        </div>
      </Section>
      <div class={`panes panes-${panes.length}`}>
        {reference !== null ? (
          <section class="pane reference" aria-label="Reference answer">
            <h2>Reference answer</h2>
            <div class="pane-text">{reference}</div>
          </section>
        ) : null}
        {panes.map((pane, index) => (
          <section class="pane" key={index} aria-label={`Pane ${index + 1}`} data-pane={index}>
            <label for={`pane-model-${index}`}>Model {index + 1}</label>
            <select id={`pane-model-${index}`} value={pane.model} onChange={(event) => update(index, { model: (event.target as HTMLSelectElement).value })}>
              {pane.model && !models.some((model) => model.id === pane.model) ? <option value={pane.model}>{pane.model}</option> : null}
              {groups.map((group) => (
                <optgroup key={group} label={group}>
                  {models
                    .filter((model) => model.group === group)
                    .map((model) => (
                      <option key={model.id} value={model.id}>
                        {model.id}
                      </option>
                    ))}
                </optgroup>
              ))}
            </select>
            <div class="pane-text" aria-live="polite" data-testid={`pane-text-${index}`}>
              {pane.text || (pane.status === "waiting" ? "…" : "")}
            </div>
            {pane.error ? <Notice>{pane.error}</Notice> : null}
            <div class="pane-stats muted" data-testid={`pane-stats-${index}`}>
              {pane.firstTokenMs !== null ? `first token ${Math.round(pane.firstTokenMs)} ms` : ""}
              {pane.totalMs !== null ? ` · total ${Math.round(pane.totalMs)} ms` : ""}
              {pane.completionTokens !== null && pane.totalMs !== null && pane.firstTokenMs !== null
                ? ` · ${formatNumber((pane.completionTokens / Math.max(1, pane.totalMs - pane.firstTokenMs)) * 1000, 3)} tokens/s`
                : ""}
              {pane.promptTokens !== null ? ` · ${pane.promptTokens} prompt + ${pane.completionTokens ?? 0} completion tokens` : ""}
            </div>
            <button type="button" class="button-small" onClick={() => void showPrompt(index)}>
              Show prompt
            </button>
            {pane.prompt !== null ? (
              <pre class="code prompt" aria-label={`Prompt of pane ${index + 1}`} tabIndex={0}>
                {pane.prompt}
              </pre>
            ) : null}
          </section>
        ))}
      </div>
    </div>
  );
}
