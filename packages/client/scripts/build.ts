// `bun run build` (in packages/client): dist/ with the ESM bundle, declarations and a publishable
// package.json. The declarations must not reach into the server: the API's route schema and tRPC
// router are printed out structurally (dist/api-types.d.ts) from the live types in src/api-types.ts.
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import ts from "typescript";

const ROOT = join(import.meta.dir, "..");
const SRC = join(ROOT, "src");
// `--outdir <dir>` builds elsewhere (the build test does, to leave dist/ alone).
const { values: args } = parseArgs({ options: { outdir: { type: "string" } } });
const DIST = args.outdir ? resolve(args.outdir) : join(ROOT, "dist");
/** Runtime dependencies left to the consumer's installer (hono is imported as hono/client). */
const EXTERNAL = ["@trpc/client", "@trpc/server", "hono"];

async function bundle() {
  const result = await Bun.build({
    entrypoints: [join(SRC, "index.ts")],
    outdir: DIST,
    target: "browser",
    format: "esm",
    external: EXTERNAL.flatMap((name) => [name, `${name}/*`]),
    sourcemap: "linked",
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error("bundling failed");
  }
}

/** A build-only module the program sees beside src/api-types.ts: the router's procedures, flattened. */
const PROBE = join(SRC, "__build-probe.ts");
const PROBE_SOURCE = `
import type { AnyTRPCProcedure } from "@trpc/server";
import type { ApiSchema, AppRouter, Expand } from "./api-types.ts";
type Shapes<R> = {
  [K in keyof R]: R[K] extends AnyTRPCProcedure
    ? {
        kind: R[K]["_def"]["type"];
        input: Expand<R[K]["_def"]["$types"]["input"]>;
        output: Expand<R[K]["_def"]["$types"]["output"]>;
      }
    : Shapes<R[K]>;
};
type Root = AppRouter["_def"]["_config"]["$types"];
export type ProbeSchema = ApiSchema;
export type ProbeProcedures = Shapes<AppRouter["_def"]["record"]>;
export type ProbeErrorShape = Expand<Root["errorShape"]>;
export type ProbeTransformer = Root["transformer"];
`;

async function writeDeclarations() {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.build.json"), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  });
  if (!config) throw new Error("tsconfig.build.json did not parse");
  const host = ts.createCompilerHost(config.options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, language, ...rest) =>
    file === PROBE
      ? ts.createSourceFile(file, PROBE_SOURCE, language)
      : getSourceFile(file, language, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => file === PROBE || fileExists(file);
  const program = ts.createProgram({
    rootNames: [...config.fileNames, PROBE],
    options: config.options,
    host,
  });

  // Only the client's own files are checked here (the server's are the workspace typecheck's job).
  const problems = config.fileNames.flatMap((file) => {
    const source = program.getSourceFile(file);
    return source
      ? [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
      : [];
  });
  if (problems.length > 0) throw new Error(ts.formatDiagnostics(problems, host));

  // The client's own declarations, with relative `.ts` specifiers turned into the `.js` a consumer resolves.
  const written: string[] = [];
  for (const file of config.fileNames) {
    if (file === join(SRC, "api-types.ts")) continue;
    const source = program.getSourceFile(file);
    if (!source) throw new Error(`not in the program: ${file}`);
    const result = program.emit(
      source,
      (name, text) => {
        if (!name.endsWith(".d.ts")) return;
        const out = join(DIST, relative(SRC, file).replace(/\.ts$/, ".d.ts"));
        written.push(
          writeFile(out, text.replace(/(["'])(\.{1,2}\/[^"']+)\.ts\1/g, "$1$2.js$1")).then(() => out),
        );
      },
      undefined,
      true,
    );
    const declarationProblems = result.diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (declarationProblems.length > 0) throw new Error(ts.formatDiagnostics(declarationProblems, host));
  }
  await Promise.all(written);
  await writeFile(join(DIST, "api-types.d.ts"), printApiTypes(program));
}

/** dist/api-types.d.ts: the same exports as src/api-types.ts, as plain types. */
function printApiTypes(program: ts.Program): string {
  const checker = program.getTypeChecker();
  const probe = program.getSourceFile(PROBE);
  const module = probe && checker.getSymbolAtLocation(probe);
  if (!probe || !module) throw new Error("build probe missing from the program");
  const exported = (name: string) => {
    const symbol = checker.getExportsOfModule(module).find((s) => s.name === name);
    if (!symbol) throw new Error(`build probe: ${name} missing`);
    return checker.getDeclaredTypeOfSymbol(symbol);
  };
  const printer = ts.createPrinter({ removeComments: true });
  const flags =
    ts.NodeBuilderFlags.NoTruncation | ts.NodeBuilderFlags.InTypeAlias | ts.NodeBuilderFlags.IgnoreErrors;
  const print = (type: ts.Type): string => {
    const node = checker.typeToTypeNode(type, undefined, flags);
    if (!node) throw new Error(`cannot print ${checker.typeToString(type)}`);
    return printer.printNode(ts.EmitHint.Unspecified, node, probe);
  };
  const propertyType = (type: ts.Type, name: string) => {
    const property = type.getProperty(name);
    return property && checker.getTypeOfSymbol(property);
  };
  const KIND = {
    query: "TRPCQueryProcedure",
    mutation: "TRPCMutationProcedure",
    subscription: "TRPCSubscriptionProcedure",
  };
  const record = (type: ts.Type): string => {
    const entries = type.getProperties().map((property) => {
      const value = checker.getTypeOfSymbol(property);
      const kind = propertyType(value, "kind");
      const input = propertyType(value, "input");
      const output = propertyType(value, "output");
      if (!kind || !input || !output) return `${JSON.stringify(property.name)}: ${record(value)};`;
      const name = KIND[checker.typeToString(kind).replaceAll('"', "") as keyof typeof KIND];
      if (!name) throw new Error(`unknown procedure kind ${checker.typeToString(kind)}`);
      return `${JSON.stringify(property.name)}: ${name}<{ input: ${print(input)}; output: ${print(output)}; meta: object; errorShape: ApiErrorShape }>;`;
    });
    return `{ ${entries.join(" ")} }`;
  };
  const text = `// Generated by packages/client/scripts/build.ts from the API's types. Do not edit.
import type { Hono } from "hono";
import type { BlankEnv } from "hono/types";
import type {
  TRPC_ERROR_CODE_NUMBER,
  TRPCBuiltRouter,
  TRPCMutationProcedure,
  TRPCQueryProcedure,
  TRPCSubscriptionProcedure,
} from "@trpc/server";

export type Expand<T> = T extends (...args: never[]) => unknown ? T : T extends object ? { [K in keyof T]: Expand<T[K]> } : T;
/** Every REST route: path → \`$method\` → input, output and success status. */
export type ApiSchema = ${print(exported("ProbeSchema"))};
/** What \`hc\` needs of the app: its route schema. */
export type AppType = Hono<BlankEnv, ApiSchema, "/">;
type ApiErrorShape = ${print(exported("ProbeErrorShape"))};
/** The tRPC router's type, for \`createTRPCClient\`. */
export type AppRouter = TRPCBuiltRouter<{ ctx: object; meta: object; errorShape: ApiErrorShape; transformer: ${print(exported("ProbeTransformer"))} }, ${record(exported("ProbeProcedures"))}>;
`;
  // Re-print through the parser so the file reads like code (one member per line).
  const parsed = ts.createSourceFile("api-types.d.ts", text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  return ts.createPrinter().printFile(parsed);
}

/** dist/package.json: what is published (`npm publish packages/client/dist`). */
async function writeManifest() {
  const manifest = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
  const published = {
    name: manifest.name,
    version: manifest.version,
    description: manifest.description,
    license: manifest.license,
    type: "module",
    sideEffects: false,
    main: "./index.js",
    types: "./index.d.ts",
    exports: { ".": { types: "./index.d.ts", import: "./index.js", default: "./index.js" } },
    dependencies: manifest.dependencies,
    peerDependencies: manifest.peerDependencies,
  };
  await writeFile(join(DIST, "package.json"), `${JSON.stringify(published, null, 2)}\n`);
  await copyFile(join(ROOT, "README.md"), join(DIST, "README.md"));
}

await rm(DIST, { recursive: true, force: true });
await mkdir(DIST, { recursive: true });
await bundle();
await writeDeclarations();
await writeManifest();
console.log(`built ${relative(process.cwd(), DIST) || "."}`);
