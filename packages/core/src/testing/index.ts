export * from "./context.ts";
export * from "./database.ts";
export * from "./throwaway-postgres.ts";
