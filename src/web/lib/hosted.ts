import { signal } from "@preact/signals";
import { api } from "./api.js";
import type { ListPage } from "./wire.js";
import type { HostedProviderInfo } from "../../spec/tunekit-wire.js";

/**
 * The hosted providers the server fine-tunes on (GET /v1/tunekit/hosted). In the UI a hosted
 * model's id carries its provider: `openai:gpt-4.1-mini-2025-04-14`.
 */
export const hostedProviders = signal<HostedProviderInfo[]>([]);
let loading: Promise<void> | null = null;

export function loadHostedProviders(): Promise<void> {
  loading ??= api<ListPage<HostedProviderInfo>>("/v1/tunekit/hosted")
    .then((page) => {
      hostedProviders.value = page.data;
    })
    .catch((error: unknown) => {
      loading = null;
      throw error;
    });
  return loading;
}

/** `openai:gpt-4o-mini` -> { provider: "openai", model: "gpt-4o-mini" }; a local id -> provider null. */
export function splitModelId(id: string): { provider: string | null; model: string } {
  for (const provider of hostedProviders.value) {
    if (id.startsWith(`${provider.name}:`)) return { provider: provider.name, model: id.slice(provider.name.length + 1) };
  }
  return { provider: null, model: id };
}
