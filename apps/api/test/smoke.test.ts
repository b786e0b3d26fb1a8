import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

test("a participant creates and lists their own commitment", async () => {
  const token = await h.participant("alice");
  const created = await h.call("POST", "/api/commitments", {
    token,
    body: { suggestion_id: "w1", period_start: "2026-07-02T11:00:00", period_end: "2026-07-02T12:00:00Z" },
  });
  expect(created.status, created.text).toBe(201);
  const list = await h.call("GET", "/api/commitments", { token });
  expect(list.status, list.text).toBe(200);
  expect(list.json.total).toBe(1);
});
