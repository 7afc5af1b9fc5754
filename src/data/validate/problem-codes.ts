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
  data_type: { severity: "error", title: "line is not a JSON object" },
  missing_messages_list: { severity: "error", title: "`messages` list missing or empty" },
  message_missing_key: { severity: "error", title: "message without `role` or `content`" },
  message_unrecognized_key: { severity: "error", title: "message with an unrecognised key" },
  unrecognized_role: { severity: "error", title: "message with an unrecognised role" },
  missing_content: { severity: "error", title: "message without text content" },
  example_missing_assistant_message: { severity: "error", title: "example without an assistant message" },
  // the cookbook's warnings and token checks
  missing_system_message: { severity: "warning", title: "example without a system message" },
  missing_user_message: { severity: "warning", title: "example without a user message" },
  example_over_context_length: { severity: "warning", title: "example longer than the model's context" },
  too_few_examples: { severity: "error", title: "fewer than 10 examples" },
  // reading the file
  invalid_utf8: { severity: "error", title: "line is not valid UTF-8" },
  invalid_json: { severity: "error", title: "line is not valid JSON" },
  bom: { severity: "warning", title: "file starts with a byte order mark" },
  blank_line: { severity: "warning", title: "blank line" },
  unknown_format: { severity: "error", title: "example matches no dataset format" },
  format_mismatch: { severity: "error", title: "example in a different format than the file" },
  // chat details
  invalid_weight: { severity: "error", title: "`weight` not 0 or 1, or not on an assistant message" },
  invalid_tool_call: { severity: "error", title: "malformed `tool_calls` entry" },
  unmatched_tool_call: { severity: "error", title: "tool call without a matching tool message, or the reverse" },
  last_message_not_assistant: { severity: "warning", title: "example does not end with an assistant message" },
  empty_assistant_content: { severity: "error", title: "assistant message with empty content" },
  // prompt-completion, text, preference
  missing_prompt: { severity: "error", title: "`prompt` missing or not a string" },
  missing_completion: { severity: "error", title: "`completion` missing, empty or not a string" },
  missing_text: { severity: "error", title: "`text` missing, empty or not a string" },
  unrecognized_key: { severity: "warning", title: "example with an unrecognised key" },
  missing_input_messages: { severity: "error", title: "preference `input.messages` missing or empty" },
  invalid_preference_output: { severity: "error", title: "preference output not a list of one assistant message" },
  identical_preference_outputs: { severity: "warning", title: "preferred and non-preferred outputs are identical" },
  // across examples
  duplicate_example: { severity: "warning", title: "exact duplicate of an earlier example" },
  near_duplicate_example: { severity: "warning", title: "near-duplicate of an earlier example" },
  train_validation_overlap: { severity: "warning", title: "prompt also in the validation file" },
  token_count_failed: { severity: "error", title: "tokens could not be counted" },
  index_full: { severity: "warning", title: "duplicate index full; later examples checked only against earlier ones" },
} as const satisfies Record<string, { severity: Severity; title: string }>;

export type ProblemCode = keyof typeof PROBLEM_CODES;

/** One problem found in a dataset. `line` is 1-based; null for problems of the whole file. */
export interface ValidationProblem {
  line: number | null;
  code: ProblemCode;
  message: string;
  /** set for problems of the `--validation-file` */
  file?: string;
}

export function severityOf(code: ProblemCode): Severity {
  return PROBLEM_CODES[code].severity;
}
