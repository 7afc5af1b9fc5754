import { signal } from "@preact/signals";
import { api } from "./api.js";
import type { ListPage, ModelInfo } from "./wire.js";

/** The server's base models (GET /v1/tunekit/models), loaded once a page needs them. */
export const baseModels = signal<ModelInfo[] | null>(null);
let loading: Promise<void> | null = null;

export function loadBaseModels(): Promise<void> {
  loading ??= api<ListPage<ModelInfo>>("/v1/tunekit/models")
    .then((page) => {
      baseModels.value = page.data;
    })
    .catch((error: unknown) => {
      loading = null;
      throw error;
    });
  return loading;
}
