import { describe, expect, it } from "vitest";
import { parseColumnMapping } from "./column-mapping.js";
import { cellText, convertAlpacaRecord, convertMappedRecord, convertSharegptRecord } from "./convert-record.js";

const qa = parseColumnMapping(["question=user", "answer=assistant"]);

describe("cellText", () => {
  it("keeps strings, spells out numbers and booleans, writes lists as JSON, treats blanks as empty", () => {
    expect(cellText("  keep  ")).toBe("  keep  ");
    expect(cellText(366)).toBe("366");
    expect(cellText(false)).toBe("false");
    expect(cellText(["salt", "pepper"])).toBe('["salt","pepper"]');
    expect(cellText("   ")).toBeNull();
    expect(cellText(null)).toBeNull();
    expect(cellText(undefined)).toBeNull();
  });
});

describe("convertMappedRecord", () => {
  it("builds system, user, assistant messages from mapped columns and adds --system when the row has none", () => {
    const result = convertMappedRecord({ question: "2+2?", answer: 4, extra: "ignored" }, qa, { system: "Be brief." });
    expect(result.example).toEqual({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "2+2?" },
        { role: "assistant", content: "4" },
      ],
    });
  });

  it("joins several columns mapped to one field with a blank line, in --map order, skipping empty ones", () => {
    const mapping = parseColumnMapping(["title=user", "body=user", "notes=user", "reply=assistant", "persona=system"]);
    const result = convertMappedRecord({ title: "Subject", body: "Details", notes: "", reply: "Done", persona: "You are support." }, mapping, {
      system: "unused because the row has one",
    });
    expect(result.example?.messages).toEqual([
      { role: "system", content: "You are support." },
      { role: "user", content: "Subject\n\nDetails" },
      { role: "assistant", content: "Done" },
    ]);
  });

  it("names the column, the field and the fix when a mapped column is missing or empty", () => {
    const missing = convertMappedRecord({ question: "Who wrote Hamlet?" }, qa);
    expect(missing.problems).toEqual([expect.objectContaining({ code: "missing_column", column: "answer", field: "assistant", fix: expect.stringContaining("--map") })]);
    const empty = convertMappedRecord({ question: "", answer: "x" }, qa);
    expect(empty.problems).toEqual([expect.objectContaining({ code: "empty_value", column: "question", field: "user" })]);
    expect(empty.problems?.[0]?.message).toContain("`question`");
  });

  it("uses prompt/completion (or user/assistant) columns without a mapping", () => {
    expect(convertMappedRecord({ prompt: "p", completion: "c" }, null).example?.messages).toEqual([
      { role: "user", content: "p" },
      { role: "assistant", content: "c" },
    ]);
    expect(convertMappedRecord({ user: "u", assistant: "a", system: "s" }, null).example?.messages.map((message) => message.role)).toEqual(["system", "user", "assistant"]);
  });

  it("keeps records already in chat format, adding only the --system message", () => {
    const record = {
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello" },
      ],
      tools: [],
    };
    expect(convertMappedRecord(record, null, { system: "S" }).example).toEqual({
      messages: [{ role: "system", content: "S" }, ...record.messages],
      tools: [],
    });
  });

  it("points Alpaca-looking records to --from alpaca when no column matches", () => {
    const result = convertMappedRecord({ instruction: "i", output: "o" }, null);
    expect(result.problems?.[0]?.message).toContain("--from alpaca");
  });

  it("refuses records that are not objects", () => {
    expect(convertMappedRecord([1, 2], qa).problems?.[0]?.code).toBe("not_an_object");
  });
});

describe("convertAlpacaRecord", () => {
  it("appends a non-empty input to the instruction after a blank line", () => {
    expect(convertAlpacaRecord({ instruction: "Translate to French.", input: "The cat sleeps.", output: "Le chat dort." }).example?.messages).toEqual([
      { role: "user", content: "Translate to French.\n\nThe cat sleeps." },
      { role: "assistant", content: "Le chat dort." },
    ]);
    expect(convertAlpacaRecord({ instruction: "Say hi.", input: "", output: "Hi." }).example?.messages[0]).toEqual({ role: "user", content: "Say hi." });
  });

  it("turns system and history into leading messages", () => {
    const result = convertAlpacaRecord({ instruction: "And now?", output: "Now.", system: "S", history: [["First?", "First."]] }, { system: "ignored" });
    expect(result.example?.messages).toEqual([
      { role: "system", content: "S" },
      { role: "user", content: "First?" },
      { role: "assistant", content: "First." },
      { role: "user", content: "And now?" },
      { role: "assistant", content: "Now." },
    ]);
  });

  it("reports an empty output and a malformed history with their columns", () => {
    const result = convertAlpacaRecord({ instruction: "x", output: "", history: "nope" });
    expect(result.problems?.map((problem) => [problem.code, problem.column])).toEqual([
      ["empty_value", "output"],
      ["invalid_value", "history"],
    ]);
  });
});

describe("convertSharegptRecord", () => {
  it("maps human/gpt/system/tool turns to chat roles and puts a top-level system first", () => {
    const result = convertSharegptRecord({
      system: "Top",
      conversations: [
        { from: "human", value: "q" },
        { from: "tool", value: "{}" },
        { from: "gpt", value: "a" },
      ],
    });
    expect(result.example?.messages).toEqual([
      { role: "system", content: "Top" },
      { role: "user", content: "q" },
      { role: "tool", content: "{}" },
      { role: "assistant", content: "a" },
    ]);
  });

  it("names the turn of an unknown role and refuses function_call turns", () => {
    const unknown = convertSharegptRecord({
      conversations: [
        { from: "human", value: "q" },
        { from: "narrator", value: "a" },
      ],
    });
    expect(unknown.problems).toEqual([expect.objectContaining({ code: "unknown_role", column: "conversations[1].from" })]);
    const call = convertSharegptRecord({
      conversations: [
        { from: "human", value: "q" },
        { from: "function_call", value: "{}" },
      ],
    });
    expect(call.problems?.[0]?.code).toBe("unsupported_turn");
  });

  it("needs an assistant turn and a conversations list", () => {
    expect(convertSharegptRecord({ conversations: [{ from: "human", value: "q" }] }).problems?.[0]?.code).toBe("no_assistant_turn");
    expect(convertSharegptRecord({ messages: [] }).problems?.[0]?.message).toContain("already in chat format");
  });
});
