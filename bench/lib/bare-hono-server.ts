// Ceiling of the list benchmark: a bare Hono route served by Bun.serve, answering the JSON body in
// BODY_FILE (the API's own answer) re-serialised per request — routing, JSON and HTTP, nothing else.
import { readFileSync } from "node:fs";
import { Hono } from "hono";

const bodyFile = process.env.BODY_FILE;
if (!bodyFile) throw new Error("BODY_FILE is required");
const payload: unknown = JSON.parse(readFileSync(bodyFile, "utf8"));

const app = new Hono().get("/health", (c) => c.json({ status: "ok" })).get("/", (c) => c.json(payload));

Bun.serve({ hostname: "127.0.0.1", port: Number(process.env.PORT ?? 0), fetch: app.fetch });
