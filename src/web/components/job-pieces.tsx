import { ACTION_LABELS, actionsFor, type JobAction } from "../lib/job-actions.js";
import { CopyButton } from "./ui.js";

/** A fine-tuned model id with its copy button, or a dash. */
export function ModelIdCell({ id }: { id: string | null }) {
  if (!id) return <>–</>;
  return (
    <span class="model-id">
      <span class="mono">{id}</span> <CopyButton text={id} label={`Copy model id ${id}`} />
    </span>
  );
}

/** The actions a job's status allows (cancel, pause, resume), as buttons that say which job they act on. */
export function JobActionButtons({
  jobId,
  status,
  onAction,
  disabled = false,
  size,
}: {
  jobId: string;
  status: string;
  onAction(action: JobAction): void;
  disabled?: boolean;
  size: "small" | "large";
}) {
  return (
    <>
      {actionsFor(status).map((action) => (
        <button
          type="button"
          key={action}
          class={size === "small" ? `button-small${action === "cancel" ? " danger" : ""}` : `button ${action === "cancel" ? "button-danger" : "button-plain"}`}
          disabled={disabled}
          onClick={() => onAction(action)}
          aria-label={size === "small" ? `${ACTION_LABELS[action]} ${jobId}` : undefined}
        >
          {ACTION_LABELS[action]}
        </button>
      ))}
    </>
  );
}
