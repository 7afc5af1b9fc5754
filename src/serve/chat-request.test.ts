import { describe, expect, it } from "vitest";
import { TunekitError } from "../core/errors.js";
import { parseChatRequest } from "./chat-request.js";

describe("parseChatRequest", () => {
  it("applies OpenAI's defaults and joins text parts", () => {
    const request = parseChatRequest({ model: "m", messages: [{ role: "user", content: [{ type: "text", text: "a" }, { type: "image_url" }, { type: "text", text: "b" }] }] });
    expect(request).toMatchObject({
      model: "m",
      temperature: 1,
      topP: 1,
      maxTokens: null,
      stop: [],
      seed: null,
      stream: false,
      includeUsage: false,
      responseFormat: { type: "text" },
    });
    expect(request.messages).toEqual([{ role: "user", content: "ab" }]);
  });

  it("max_completion_tokens wins over max_tokens; a stop string becomes a list; json_schema keeps its schema", () => {
    const request = parseChatRequest({
      model: "m",
      messages: [{ role: "user", content: "x" }],
      max_tokens: 9,
      max_completion_tokens: 5,
      stop: "END",
      stream: true,
      stream_options: { include_usage: true },
      response_format: { type: "json_schema", json_schema: { name: "r", schema: { type: "object" } } },
    });
    expect(request).toMatchObject({
      maxTokens: 5,
      stop: ["END"],
      stream: true,
      includeUsage: true,
      responseFormat: { type: "json_schema", name: "r", schema: { type: "object" } },
    });
  });

  it("names the parameter of every problem", () => {
    const error = (() => {
      try {
        parseChatRequest({ model: "m", messages: [{ role: "user", content: "x" }], temperature: 3, n: 2 });
      } catch (caught) {
        return caught as TunekitError;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(TunekitError);
    expect(error!.field).toBe("temperature");
    expect(error!.problems.map((problem) => problem.field).sort()).toEqual(["n", "temperature"]);
    expect(() => parseChatRequest({ model: "m", messages: [] })).toThrow(/`messages`/);
  });
});
