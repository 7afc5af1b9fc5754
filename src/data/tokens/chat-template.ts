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

  /** the model the template belongs to, named in errors (null when unknown) */
  readonly model: string | null;
  private readonly origin: string;

  constructor(source: string, specialTokens: TemplateSpecialTokens = {}, origin = "chat template", model: string | null = null) {
    this.source = source;
    this.specialTokens = specialTokens;
    this.origin = origin;
    this.model = model;
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
      const failure = templateFailure(input, errorText(error), this.model === null ? `the ${this.origin}` : `the chat template of \`${this.model}\``);
      throw new TunekitError(failure.message, { kind: "data", code: failure.code, field: failure.field, fix: failure.fix, cause: error });
    }
  }
}

export interface TemplateFailure {
  code: string;
  message: string;
  field?: string;
  fix: string;
}

function hasToolCalls(message: unknown): boolean {
  if (message === null || typeof message !== "object") return false;
  const record = message as { role?: unknown; tool_calls?: unknown };
  return (Array.isArray(record.tool_calls) && record.tool_calls.length > 0) || record.role === "tool";
}

/**
 * Why a template failed on an example, in the user's terms rather than Jinja's ("Cannot perform
 * operation + on undefined values"): most templates that fail on valid data do not know tools
 * (`tools`, `tool_calls`, `tool` turns), or concatenate `message.content` that is null or missing.
 */
export function templateFailure(input: Pick<ChatTemplateRenderInput, "messages" | "tools">, raw: string, template: string): TemplateFailure {
  const messages = input.messages as ReadonlyArray<Record<string, unknown>>;
  const toolMessage = messages.findIndex(hasToolCalls);
  const hasTools = Boolean(input.tools && input.tools.length > 0);
  if (hasTools || toolMessage >= 0) {
    const what = [hasTools ? "`tools`" : null, toolMessage >= 0 ? `\`${messages[toolMessage]!.role === "tool" ? "tool" : "tool_calls"}\` (message ${toolMessage + 1})` : null]
      .filter(Boolean)
      .join(" and ");
    return {
      code: "template_without_tools",
      field: hasTools ? "tools" : `messages[${toolMessage}]`,
      message: `${template} does not support tool calls: it failed on this example's ${what} (the template said: ${raw})`,
      fix: "pick a model whose chat template renders tools and tool calls (Qwen2.5 and Llama 3.1 Instruct templates do), set `data.chat_template` (or --chat-template FILE) to one that does, or drop the tool calls from the data",
    };
  }
  const empty = messages.findIndex((message) => message.content === null || message.content === undefined);
  if (empty >= 0) {
    return {
      code: "template_without_empty_content",
      field: `messages[${empty}].content`,
      message: `${template} does not support messages without content: message ${empty + 1} (\`${String(messages[empty]!.role)}\`) has ${messages[empty]!.content === null ? "`content: null`" : "no `content`"} (the template said: ${raw})`,
      fix: 'give every message a `content` string ("" if it has nothing to say), or pick a model (or `data.chat_template`) whose template allows messages without content',
    };
  }
  return {
    code: "chat_template_error",
    message: `${template.charAt(0).toUpperCase()}${template.slice(1)} failed on this example: ${raw}`,
    fix: "Check the example's messages (roles, order, content) against what the model's chat template accepts, or set `data.chat_template`.",
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** transformers allows `chat_template` to be a string or a list of named templates; pick `default`. */
export function pickChatTemplate(value: unknown): string | null {
  if (typeof value === "string" && value.length > 0) return value;
  if (Array.isArray(value)) {
    const named = value.filter(
      (entry): entry is { name: string; template: string } => entry !== null && typeof entry === "object" && typeof (entry as { template?: unknown }).template === "string",
    );
    const chosen = named.find((entry) => entry.name === "default") ?? named[0];
    return chosen ? chosen.template : null;
  }
  return null;
}
