/**
 * How `serve` finds what a base model id names, without knowing where the server keeps its models
 * (the job service's model catalog implements it; the composition root wires it). Version 1.
 */
export interface BaseModelSource {
  /** the id users pass as `model` */
  id: string;
  /** what the engines load: an absolute path (HF folder or .gguf) or a hub id */
  source: string;
}

export interface BaseModelLookup {
  /** the base model an id names, or null */
  resolve(id: string): BaseModelSource | null;
}
