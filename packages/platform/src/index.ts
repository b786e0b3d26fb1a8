export * from "./http-clients.ts";
