import { UpstreamError } from "../errors.ts";
import type { Platform } from "./ports.ts";

const fail = (upstream: string) => () => {
  throw new UpstreamError(upstream, "not configured in this process");
};

/** A platform that refuses every call: for processes and tests that must not reach out. */
export const unconfiguredPlatform: Platform = {
  dt: {
    membership: fail("digital-twin"),
    deviceOf: fail("digital-twin"),
    communityWindows: fail("digital-twin"),
    deviceWindows: fail("digital-twin"),
    settlementHours: fail("digital-twin"),
    forecast: fail("digital-twin"),
  },
  nudging: { ingest: fail("nudging") },
  registry: { communities: fail("rec-registry"), members: fail("rec-registry") },
  publisher: { publish: fail("mqtt") },
  webhooks: { resolve: fail("webhook"), post: fail("webhook") },
};
