import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { baseModels, loadBaseModels } from "../lib/catalog.js";
import type { FileObject, FileReportView } from "../lib/wire.js";
import { Notice, Section } from "./ui.js";

interface FixAnswer {
  file: FileObject;
  report: { kept: number; removed: Record<string, number> };
}

/** Fixes that never touch the original: each writes a new file, which opens when it is ready. */
export function FileFixes({
  fileId,
  report,
  files,
  onFixed,
}: {
  fileId: string;
  report: FileReportView;
  files: FileObject[];
  onFixed(id: string, message: string): Promise<void>;
}) {
  const [dropInvalid, setDropInvalid] = useState(!report.ok);
  const [dropDuplicates, setDropDuplicates] = useState(report.duplicates.exact > 0);
  const [dropNear, setDropNear] = useState(false);
  const [overContext, setOverContext] = useState(false);
  const [model, setModel] = useState("");
  const [maxTokens, setMaxTokens] = useState("");
  const [overlapWith, setOverlapWith] = useState("");
  const [stripBom, setStripBom] = useState(Boolean(report.counts.bom));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    loadBaseModels().catch(() => undefined);
  }, []);
  useEffect(() => {
    if (!model && baseModels.value?.[0]) setModel(baseModels.value[0].id);
  }, [baseModels.value]);

  const count = (code: string) => report.counts[code]?.count ?? 0;
  const errors = Object.values(report.counts)
    .filter((entry) => entry.severity === "error")
    .reduce((sum, entry) => sum + entry.count, 0);
  const chosen = dropInvalid || dropDuplicates || dropNear || overContext || overlapWith !== "" || stripBom;
  const others = files.filter((file) => file.id !== fileId);

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const answer = await api<FixAnswer>(`/v1/tunekit/files/${fileId}/fix`, {
        body: {
          drop_invalid: dropInvalid,
          drop_duplicates: dropDuplicates,
          drop_near_duplicates: dropNear,
          drop_over_context: overContext ? { model, ...(maxTokens ? { max_tokens: Number(maxTokens) } : {}) } : null,
          remove_overlap_with: overlapWith || null,
          strip_bom: stripBom,
        },
      });
      const removed = Object.entries(answer.report.removed)
        .filter(([, value]) => value > 0)
        .map(([reason, value]) => `${value} ${reason.replace("_", " ")}`);
      await onFixed(
        answer.file.id,
        `Wrote ${answer.file.filename}: kept ${answer.report.kept} lines${removed.length ? `, removed ${removed.join(", ")}` : ""}. The original is unchanged.`,
      );
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Fix into a new file" id="fixes">
      <p class="muted">The original stays as it is; the fixed copy is a new file with its own report.</p>
      {error ? <Notice>{error}</Notice> : null}
      <div class="checks">
        <label class="check">
          <input type="checkbox" checked={dropInvalid} onChange={() => setDropInvalid(!dropInvalid)} /> Drop invalid and blank lines ({errors} errors)
        </label>
        <label class="check">
          <input type="checkbox" checked={dropDuplicates} onChange={() => setDropDuplicates(!dropDuplicates)} /> Drop exact duplicates ({report.duplicates.exact})
        </label>
        <label class="check">
          <input type="checkbox" checked={dropNear} onChange={() => setDropNear(!dropNear)} /> Drop near duplicates ({report.duplicates.near})
        </label>
        <label class="check">
          <input type="checkbox" checked={stripBom} onChange={() => setStripBom(!stripBom)} /> Strip the byte order mark{count("bom") ? "" : " (none found)"}
        </label>
        <div class="check-with-fields">
          <label class="check">
            <input type="checkbox" checked={overContext} onChange={() => setOverContext(!overContext)} /> Drop examples longer than the context of
          </label>
          <label class="visually-hidden" for="fix-model">
            Model whose context length applies
          </label>
          <select id="fix-model" value={model} onChange={(event) => setModel((event.target as HTMLSelectElement).value)} disabled={!overContext}>
            {(baseModels.value ?? []).map((entry) => (
              <option key={entry.id} value={entry.id}>
                {entry.id} ({entry.context_length ?? "?"} tokens)
              </option>
            ))}
          </select>
          <label for="fix-max-tokens">or at most</label>
          <input
            id="fix-max-tokens"
            type="number"
            min="1"
            placeholder="tokens"
            value={maxTokens}
            disabled={!overContext}
            onInput={(event) => setMaxTokens((event.target as HTMLInputElement).value)}
          />
        </div>
        <div class="check-with-fields">
          <label for="fix-overlap">Remove prompts also in</label>
          <select id="fix-overlap" value={overlapWith} onChange={(event) => setOverlapWith((event.target as HTMLSelectElement).value)}>
            <option value="">(no validation file)</option>
            {others.map((file) => (
              <option key={file.id} value={file.id}>
                {file.filename} ({file.id})
              </option>
            ))}
          </select>
        </div>
      </div>
      <button type="button" class="button button-primary" disabled={!chosen || busy} onClick={() => void run()}>
        {busy ? "Writing…" : "Write fixed copy"}
      </button>
    </Section>
  );
}

/** A deterministic train/validation split (same seed, same split) into two new files. */
export function FileSplit({ fileId, examples, onSplit }: { fileId: string; examples: number; onSplit(id: string, message: string): Promise<void> }) {
  const [fraction, setFraction] = useState("0.1");
  const [seed, setSeed] = useState("42");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const answer = await api<{ train: FileObject; validation: FileObject; report: { examples: number } }>(`/v1/tunekit/files/${fileId}/split`, {
        body: { validation: Number(fraction), seed: Number(seed) },
      });
      await onSplit(answer.train.id, `Wrote ${answer.train.filename} (${answer.train.id}) and ${answer.validation.filename} (${answer.validation.id}); this is the training part.`);
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const validationCount = Math.round(examples * Number(fraction || 0));
  return (
    <Section title="Split off a validation file" id="split">
      {error ? <Notice>{error}</Notice> : null}
      <div class="inline-form">
        <label for="split-fraction">Validation fraction</label>
        <input id="split-fraction" type="number" min="0.01" max="0.9" step="0.01" value={fraction} onInput={(event) => setFraction((event.target as HTMLInputElement).value)} />
        <label for="split-seed">Seed</label>
        <input id="split-seed" type="number" min="0" value={seed} onInput={(event) => setSeed((event.target as HTMLInputElement).value)} />
        <button type="button" class="button button-plain" disabled={busy} onClick={() => void run()}>
          Split
        </button>
        <span class="muted">
          about {validationCount} validation and {Math.max(0, examples - validationCount)} training examples; duplicates stay on one side
        </span>
      </div>
    </Section>
  );
}
