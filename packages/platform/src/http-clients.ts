// The edge-portable part of the package (fetch, AbortController, timers only): everything except
// the MQTT publisher, which needs a TCP/WebSocket client.
export * from "./digital-twin.ts";
export type { FetchLike, Outcome } from "./http.ts";
export * from "./nudging.ts";
export * from "./registry.ts";
export * from "./token-provider.ts";
export * from "./webhooks.ts";
