/**
 * Every problem `tunekit data validate` can report. The first seven are the checks of OpenAI's
 * cookbook "Data preparation and analysis for chat model fine-tuning" under the same names
 * (https://github.com/openai/openai-cookbook/blob/main/examples/Chat_finetuning_data_prep.ipynb);
 * the rest are what users trip on in practice. Errors make the file unusable for training;
 * warnings are worth a look but do not block.
 */
export type Severity = "error" | "warning";

export const PROBLEM_CODES = {
  // the cookbook's format checks
  data_type: {
    severity: "error",
    title: "line is not a JSON object",
    fix: 'make each line one JSON object: {"messages": [...]}, {"prompt", "completion"}, {"text"} or a preference pair',
  },
  missing_messages_list: { severity: "error", title: "`messages` list missing or empty", fix: "add a non-empty `messages` list of {role, content} objects" },
  message_missing_key: { severity: "error", title: "message without `role` or `content`", fix: "give every message a `role` and a `content`" },
  message_unrecognized_key: {
    severity: "error",
    title: "message with an unrecognised key",
    fix: "remove the key, or rename it to one of role, content, name, weight, tool_calls, tool_call_id, function_call",
  },
  unrecognized_role: { severity: "error", title: "message with an unrecognised role", fix: "use one of the roles system, user, assistant, tool" },
  missing_content: { severity: "error", title: "message without text content", fix: "put the message text in `content` (a string, or a list of text parts)" },
  example_missing_assistant_message: { severity: "error", title: "example without an assistant message", fix: "add the assistant answer the model should learn" },
  // the cookbook's warnings and token checks
  missing_system_message: { severity: "warning", title: "example without a system message", fix: "optional: add a system message if you will send one at inference time" },
  missing_user_message: { severity: "warning", title: "example without a user message", fix: "optional: add the user turn the assistant answers" },
  example_over_context_length: {
    severity: "warning",
    title: "example longer than the model's context",
    fix: "shorten the example, raise `data.max_seq_len`, or drop it (the Data screen's fix does)",
  },
  too_few_examples: { severity: "error", title: "fewer than 10 examples", fix: "add examples: at least 10, and 50-100 for a visible effect" },
  // reading the file
  invalid_utf8: {
    severity: "error",
    title: "line is not valid UTF-8",
    fix: "pass `--encoding windows-1252` (or `--encoding latin1`) when the file was saved in that encoding, or re-save it as UTF-8",
  },
  wrong_field_count: {
    severity: "error",
    title: "row with more or fewer fields than the header",
    fix: "quote fields that contain the delimiter or line breaks, or add the missing fields",
  },
  unmapped_record: { severity: "error", title: "row whose mapped columns do not make an example", fix: "fill the mapped columns of the row, or check the `--map` columns" },
  format_not_supported: {
    severity: "error",
    title: "dataset format the model's provider does not train on",
    fix: "convert the data to chat with `tunekit data convert`, or train a local model",
  },
  invalid_json: { severity: "error", title: "line is not valid JSON", fix: "write one complete JSON object per line: double quotes, no trailing commas, no line breaks inside" },
  empty_file: { severity: "error", title: "the file is empty", fix: "upload the dataset file itself, not an empty export" },
  binary_file: { severity: "error", title: "the file is binary, not text", fix: "upload JSONL, CSV, TSV, JSON or Parquet (a spreadsheet: save it as CSV UTF-8 first)" },
  needs_conversion: {
    severity: "error",
    title: "a table or JSON array, not JSONL",
    fix: "map its columns to chat messages: the Data screen's column mapping, `POST /v1/tunekit/files/{id}/convert`, or `tunekit data convert --map column=user --map column=assistant`",
  },
  bom: { severity: "warning", title: "file starts with a byte order mark", fix: "save the file as UTF-8 without a BOM (the Data screen's fix strips it)" },
  blank_line: { severity: "warning", title: "blank line", fix: "remove the blank line" },
  unknown_format: {
    severity: "error",
    title: "example matches no dataset format",
    fix: "use one dataset format: chat `messages`, `prompt`/`completion`, `text`, or `input`/`preferred_output`/`non_preferred_output`",
  },
  format_mismatch: {
    severity: "error",
    title: "example in a different format than the file",
    fix: "keep every line in the format of the first example, or split the file by format",
  },
  // chat details
  invalid_weight: { severity: "error", title: "`weight` not 0 or 1, or not on an assistant message", fix: "set `weight` to 0 or 1, and only on assistant messages" },
  invalid_tool_call: {
    severity: "error",
    title: "malformed `tool_calls` entry",
    fix: "give each `tool_calls` entry an `id`, `type: function` and a `function` with `name` and JSON `arguments`",
  },
  unmatched_tool_call: {
    severity: "error",
    title: "tool call without a matching tool message, or the reverse",
    fix: "answer every tool call with a `tool` message carrying its `tool_call_id`, and remove tool messages no call asked for",
  },
  last_message_not_assistant: {
    severity: "warning",
    title: "example does not end with an assistant message",
    fix: "end the example with the assistant turn to learn, or drop the trailing messages",
  },
  empty_assistant_content: { severity: "error", title: "assistant message with empty content", fix: "write the assistant's answer, or give the message `tool_calls`" },
  // prompt-completion, text, preference
  missing_prompt: { severity: "error", title: "`prompt` missing or not a string", fix: "add a string `prompt`" },
  missing_completion: { severity: "error", title: "`completion` missing, empty or not a string", fix: "add a non-empty string `completion`" },
  missing_text: { severity: "error", title: "`text` missing, empty or not a string", fix: "add a non-empty string `text`" },
  unrecognized_key: { severity: "warning", title: "example with an unrecognised key", fix: "remove the key, or check its spelling" },
  missing_input_messages: { severity: "error", title: "preference `input.messages` missing or empty", fix: "add `input.messages` with the conversation before the answer" },
  invalid_preference_output: { severity: "error", title: "preference output not a list of one assistant message", fix: "make each output a list of exactly one assistant message" },
  identical_preference_outputs: {
    severity: "warning",
    title: "preferred and non-preferred outputs are identical",
    fix: "make the preferred and non-preferred answers differ, or drop the pair",
  },
  // across examples
  duplicate_example: { severity: "warning", title: "exact duplicate of an earlier example", fix: "drop the repeat (the Data screen's fix drops exact duplicates)" },
  near_duplicate_example: {
    severity: "warning",
    title: "near-duplicate of an earlier example",
    fix: "drop or vary the near-copy (the Data screen's fix can drop near duplicates)",
  },
  train_validation_overlap: {
    severity: "warning",
    title: "prompt also in the validation file",
    fix: "remove the shared prompts from one side, or the validation loss flatters the model",
  },
  token_count_failed: { severity: "error", title: "tokens could not be counted", fix: "check the example renders with the model's chat template" },
  index_full: {
    severity: "warning",
    title: "duplicate index full; later examples checked only against earlier ones",
    fix: "split the file or deduplicate it first; checks past the index limit compare against earlier examples only",
  },
} as const satisfies Record<string, { severity: Severity; title: string; fix: string }>;

export type ProblemCode = keyof typeof PROBLEM_CODES;

/** One problem found in a dataset. `line` is 1-based; null for problems of the whole file. */
export interface ValidationProblem {
  line: number | null;
  code: ProblemCode;
  message: string;
  /** 1-based column where the line goes wrong (invalid JSON, invalid UTF-8) */
  column?: number;
  /** set for problems of the `--validation-file` */
  file?: string;
}

export function severityOf(code: ProblemCode): Severity {
  return PROBLEM_CODES[code].severity;
}

/** A problem with its own fix (its code's, when it has none), for every report that prints problems (`--json`: each problem has a fix). */
export function withFix<Problem extends { code: string; fix?: string }>(problem: Problem): Problem & { fix?: string } {
  const fix = problem.fix ?? (PROBLEM_CODES as Record<string, { fix: string } | undefined>)[problem.code]?.fix;
  return fix === undefined ? problem : { ...problem, fix };
}
