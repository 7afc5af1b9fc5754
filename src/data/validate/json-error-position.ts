/**
 * Finds where a JSON text stops being valid, because V8's JSON.parse messages do not always give a
 * position ("Unexpected token '}', ... is not valid JSON"). Only called after JSON.parse failed, so
 * speed does not matter. Returns a 0-based offset into `text` and a short reason.
 */
export interface JsonSyntaxError {
  offset: number;
  reason: string;
}

class Stop extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export function findJsonSyntaxError(text: string): JsonSyntaxError | null {
  let position = 0;

  const describe = (at: number): string => {
    if (at >= text.length) return "the line ends too early";
    const code = text.charCodeAt(at);
    const invisible = code < 0x20 || (code >= 0x7f && code <= 0xa0) || code === 0xfeff || (code >= 0x200b && code <= 0x200f);
    return `unexpected ${invisible ? `U+${code.toString(16).toUpperCase().padStart(4, "0")}` : JSON.stringify(text[at])}`;
  };

  const skipWhitespace = (): void => {
    while (position < text.length) {
      const code = text.charCodeAt(position);
      if (code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d) position++;
      else break;
    }
  };

  const expectLiteral = (literal: string): void => {
    for (let index = 0; index < literal.length; index++) {
      if (text[position + index] !== literal[index]) throw new Stop(position + index, describe(position + index));
    }
    position += literal.length;
  };

  const parseString = (): void => {
    position++; // opening quote
    while (position < text.length) {
      const code = text.charCodeAt(position);
      if (code === 0x22) {
        position++;
        return;
      }
      if (code < 0x20) throw new Stop(position, "control character inside a string (escape it, e.g. \\n)");
      if (code === 0x5c) {
        const next = text[position + 1];
        if (next === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(position + 2, position + 6))) throw new Stop(position, "bad \\u escape");
          position += 6;
          continue;
        }
        if (next === undefined || !'"\\/bfnrt'.includes(next)) throw new Stop(position, "bad escape in a string");
        position += 2;
        continue;
      }
      position++;
    }
    throw new Stop(position, 'string not closed (missing `"`)');
  };

  const parseNumber = (): void => {
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(position));
    if (!match || match[0] === "" || match[0] === "-") throw new Stop(position, describe(position));
    position += match[0].length;
  };

  const parseValue = (): void => {
    skipWhitespace();
    const char = text[position];
    if (char === "{") {
      position++;
      skipWhitespace();
      if (text[position] === "}") {
        position++;
        return;
      }
      for (;;) {
        skipWhitespace();
        if (text[position] !== '"') throw new Stop(position, `${describe(position)} where a key in double quotes was expected`);
        parseString();
        skipWhitespace();
        if (text[position] !== ":") throw new Stop(position, `${describe(position)} where \`:\` was expected`);
        position++;
        parseValue();
        skipWhitespace();
        if (text[position] === ",") {
          position++;
          continue;
        }
        if (text[position] === "}") {
          position++;
          return;
        }
        throw new Stop(position, `${describe(position)} where \`,\` or \`}\` was expected`);
      }
    }
    if (char === "[") {
      position++;
      skipWhitespace();
      if (text[position] === "]") {
        position++;
        return;
      }
      for (;;) {
        parseValue();
        skipWhitespace();
        if (text[position] === ",") {
          position++;
          continue;
        }
        if (text[position] === "]") {
          position++;
          return;
        }
        throw new Stop(position, `${describe(position)} where \`,\` or \`]\` was expected`);
      }
    }
    if (char === '"') return parseString();
    if (char === "t") return expectLiteral("true");
    if (char === "f") return expectLiteral("false");
    if (char === "n") return expectLiteral("null");
    if (char === "-" || (char !== undefined && char >= "0" && char <= "9")) return parseNumber();
    throw new Stop(position, char === "'" ? "single quotes (JSON needs double quotes)" : describe(position));
  };

  try {
    parseValue();
    skipWhitespace();
    if (position < text.length) return { offset: position, reason: `${describe(position)} after the JSON value (one example per line)` };
    return null;
  } catch (error) {
    if (error instanceof Stop) return { offset: error.offset, reason: error.reason };
    if (error instanceof RangeError) return { offset: position, reason: "nesting too deep" };
    throw error;
  }
}
