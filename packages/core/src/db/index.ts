// Runtime adapters (drivers, files): for entry points and tests, not for verbs.
export * from "./database.ts";
export * from "./method-file.ts";
export * from "./migrations.ts";
export * from "./open.ts";
export * from "./pglite.ts";
export * from "./postgres.ts";
