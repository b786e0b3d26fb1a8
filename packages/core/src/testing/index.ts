export * from "./context.ts";
export * from "./database.ts";
