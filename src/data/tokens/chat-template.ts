import { Template } from "@huggingface/jinja";
import { TunekitError } from "../../core/errors.js";
import type { ChatMessage } from "../../spec/dataset.js";

/** Special tokens a chat template may read, as transformers passes them (`bos_token`, `eos_token`, ...). */
export interface TemplateSpecialTokens {
  bos_token?: string | null;
  eos_token?: string | null;
  unk_token?: string | null;
  pad_token?: string | null;
}

export interface ChatTemplateRenderInput {
  messages: ReadonlyArray<ChatMessage | Record<string, unknown>>;
  tools?: unknown[] | null;
  addGenerationPrompt: boolean;
}

/**
 * A Jinja chat template rendered the way transformers' `apply_chat_template` renders it:
 * trim_blocks + lstrip_blocks, the variables `messages`, `tools` (None when absent),
 * `add_generation_prompt`, the special tokens (`bos_token`, `eos_token`, ...) and the helpers
 * `raise_exception` and `strftime_now` (@huggingface/jinja provides both).
 */
export class ChatTemplate {
  readonly source: string;
  private readonly template: Template;
  private readonly specialTokens: TemplateSpecialTokens;

  constructor(source: string, specialTokens: TemplateSpecialTokens = {}, origin = "chat template") {
    this.source = source;
    this.specialTokens = specialTokens;
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new TunekitError(`The ${origin} does not parse as Jinja: ${errorText(error)}`, {
        kind: "config",
        code: "invalid_chat_template",
        field: "data.chat_template",
        fix: "Fix the template, or set `data.chat_template` (or --chat-template) to a working Jinja chat template.",
        cause: error,
      });
    }
  }

  render(input: ChatTemplateRenderInput): string {
    const variables: Record<string, unknown> = {
      messages: input.messages,
      tools: input.tools && input.tools.length > 0 ? input.tools : null,
      add_generation_prompt: input.addGenerationPrompt,
    };
    for (const [name, value] of Object.entries(this.specialTokens)) {
      if (value !== undefined && value !== null) variables[name] = value;
    }
    try {
      return this.template.render(variables);
    } catch (error) {
      throw new TunekitError(`The chat template failed on this example: ${errorText(error)}`, {
        kind: "data",
        code: "chat_template_error",
        fix: "Check the example's messages (roles, order, content) against what the model's chat template accepts, or set `data.chat_template`.",
        cause: error,
      });
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** transformers allows `chat_template` to be a string or a list of named templates; pick `default`. */
export function pickChatTemplate(value: unknown): string | null {
  if (typeof value === "string" && value.length > 0) return value;
  if (Array.isArray(value)) {
    const named = value.filter(
      (entry): entry is { name: string; template: string } =>
        entry !== null && typeof entry === "object" && typeof (entry as { template?: unknown }).template === "string",
    );
    const chosen = named.find((entry) => entry.name === "default") ?? named[0];
    return chosen ? chosen.template : null;
  }
  return null;
}
