import type { FineTuneProvider } from "./fine-tune-provider.js";

/**
 * A hosted fine-tuning provider the server drives for its users (OpenAI, Azure OpenAI, or another
 * OpenAI-compatible fine-tuning API such as a second Tunekit server): its FineTuneProvider, the base
 * models it fine-tunes, and a chat client for its models.
 */
export interface HostedProvider {
  /** `openai`, `azure`, ...: the name in URLs and in the run config's `provider` */
  name: string;
  /** for people: "OpenAI (api.openai.com)" */
  label: string;
  provider: FineTuneProvider;
  /** base models offered for fine-tuning */
  models: string[];
  /** chat completions on the provider's models (the playground); null when the provider serves none */
  chat: ((body: Record<string, unknown>, signal: AbortSignal) => Promise<Response>) | null;
}
