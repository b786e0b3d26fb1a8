/** The repository's drizzle/ folder, resolved from this file so scripts work from any cwd. */
export const MIGRATIONS_FOLDER = new URL("../../../../drizzle", import.meta.url).pathname;
