// Rego policy text, imported `with { type: "text" }` by the edge entry so it is bundled, not read.
declare module "*.rego" {
  const text: string;
  export default text;
}
