export * from "./create-platform.ts";
export * from "./http-clients.ts";
export * from "./mqtt-connection.ts";
export * from "./mqtt-publisher.ts";
