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
      throw new TunekitError(`the model's chat template cannot render these messages: ${(error as Error).message}`, { kind: "usage", code: "invalid_messages", field: "messages", fix: "check the roles and their order (some templates need alternating user/assistant turns)" });
    }
  }
}

/** ChatML, used when a GGUF carries no template (it is what Tunekit trains with by default). */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
