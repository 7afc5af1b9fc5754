import { Template } from "@huggingface/jinja";
import { TunekitError } from "../core/errors.js";
import type { InferenceMessage } from "../spec/inference-engine.js";

/** The text of a chat prompt in the model's own template (the one training used), ending with the
 * assistant's generation prompt. */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    private readonly specialTokens: { bos: string; eos: string },
    /** the model, named in errors (null when unknown) */
    readonly model: string | null = null,
  ) {
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new TunekitError(`the model's chat template does not parse: ${(error as Error).message}`, { kind: "environment", code: "bad_chat_template", field: "model" });
    }
  }

  render(messages: readonly InferenceMessage[]): string {
    try {
      return this.template.render({
        messages: messages.map((message) => ({ role: message.role === "developer" ? "system" : message.role, content: message.content })),
        add_generation_prompt: true,
        bos_token: this.specialTokens.bos,
        eos_token: this.specialTokens.eos,
      });
    } catch (error) {
      const raw = (error as Error).message;
      const model = this.model === null ? "the model's chat template" : `the chat template of \`${this.model}\``;
      const tool = messages.findIndex((message) => message.role === "tool");
      if (tool >= 0) {
        throw new TunekitError(`${model} does not support tool calls: it failed on \`messages[${tool}]\` (role \`tool\`; the template said: ${raw})`, {
          kind: "usage",
          code: "template_without_tools",
          field: `messages[${tool}]`,
          fix: "send the conversation without tool turns, or serve a model whose chat template renders tool calls",
        });
      }
      const empty = messages.findIndex((message) => message.content === "");
      if (empty >= 0) {
        throw new TunekitError(`${model} does not support messages without content: \`messages[${empty}].content\` is empty or null (the template said: ${raw})`, {
          kind: "usage",
          code: "template_without_empty_content",
          field: `messages[${empty}].content`,
          fix: "give every message some text content, or drop the empty message",
        });
      }
      throw new TunekitError(`${model} cannot render these messages: ${raw}`, {
        kind: "usage",
        code: "invalid_messages",
        field: "messages",
        fix: "check the roles and their order (some templates need alternating user/assistant turns)",
      });
    }
  }
}

/** ChatML, used when a GGUF carries no template (it is what Tunekit trains with by default). */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
