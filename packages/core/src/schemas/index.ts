export * from "./commitments.ts";
export * from "./common.ts";
