// Checks a streamed body without holding it: a JSON array is scanned for its top-level elements,
// each parsed on its own; NDJSON is split into lines, each parsed. Memory stays at one element.

export type StreamCheck = { elements: number; bytes: number };

/** Counts the elements of a JSON array body; throws on a syntax error or anything after `]`. */
export async function checkJsonArray(
  body: ReadableStream<Uint8Array>,
  onElement: (value: unknown, index: number) => void,
): Promise<StreamCheck> {
  const decoder = new TextDecoder();
  let state = "before" as "before" | "inside" | "after";
  let depth = 0; // nesting inside the current element
  let inString = false;
  let escaped = false;
  let pending = ""; // text of the current element seen so far
  let elements = 0;
  let bytes = 0;
  let sawComma = false;
  const finish = () => {
    const text = pending.trim();
    pending = "";
    if (text === "") {
      if (sawComma || elements > 0) throw new Error(`empty element after element ${elements}`);
      return;
    }
    onElement(JSON.parse(text), elements);
    elements++;
  };
  for await (const chunk of chunksOf(body)) {
    bytes += chunk.byteLength;
    const text = decoder.decode(chunk, { stream: true });
    let from = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (state === "before") {
        if (ch === 0x5b /* [ */) {
          state = "inside";
          from = i + 1;
        } else if (!isSpace(ch)) throw new Error(`body does not start with [ (found ${text[i]})`);
        continue;
      }
      if (state === "after") {
        if (!isSpace(ch)) throw new Error(`text after the closing ]: ${text.slice(i, i + 40)}`);
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (ch === 0x5c /* \ */) escaped = true;
        else if (ch === 0x22 /* " */) inString = false;
        continue;
      }
      if (ch === 0x22) inString = true;
      else if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) depth++;
      else if (ch === 0x7d /* } */ || (ch === 0x5d /* ] */ && depth > 0)) depth--;
      else if (depth === 0 && (ch === 0x2c /* , */ || ch === 0x5d) /* ] */) {
        pending += text.slice(from, i);
        finish();
        sawComma = ch === 0x2c;
        from = i + 1;
        if (ch === 0x5d) {
          if (sawComma) throw new Error("trailing comma");
          state = "after";
        }
      }
    }
    if (state === "inside") pending += text.slice(from);
  }
  if (state !== "after") throw new Error(`body ended inside the array after ${elements} elements`);
  return { elements, bytes };
}

/** Counts the lines of an NDJSON body, each a JSON value; throws on a line that does not parse. */
export async function checkNdjson(
  body: ReadableStream<Uint8Array>,
  onElement: (value: unknown, index: number) => void,
): Promise<StreamCheck> {
  const decoder = new TextDecoder();
  let rest = "";
  let elements = 0;
  let bytes = 0;
  for await (const chunk of chunksOf(body)) {
    bytes += chunk.byteLength;
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "") continue;
      onElement(JSON.parse(line), elements);
      elements++;
    }
  }
  if (rest.trim() !== "") throw new Error(`last line has no newline: ${rest.slice(0, 80)}`);
  return { elements, bytes };
}

/** The stream's chunks, read with a reader (typed everywhere, unlike async iteration of the stream). */
async function* chunksOf(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

function isSpace(ch: number): boolean {
  return ch === 0x20 || ch === 0x0a || ch === 0x0d || ch === 0x09;
}
