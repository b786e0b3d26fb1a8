// The access rules of policies/flexibility.rego restated by hand in TypeScript. Used as the independent
// oracle of the property test and as the speed ceiling of bench/policy.bench.ts. Mirrors Rego semantics
// on odd input: refs into non-objects are undefined, only exact `true`/`false` count as booleans.
import type { Decision } from "../src/index.ts";

type Rec = Record<string, unknown>;

const PARTICIPANT_ACTIONS = new Set(["read", "write", "delete", "respond", "calendar", "webhook"]);
const READ = ["flexibility.commitments.read", "flexibility.read", "flexibility.admin"];
const WRITE = ["flexibility.commitments.write", "flexibility.write", "flexibility.admin"];
const SERVICE_SCOPES: Record<string, { accepted: string[]; required: string }> = {
  read: { accepted: READ, required: "flexibility.commitments.read" },
  service: { accepted: READ, required: "flexibility.commitments.read" },
  write: { accepted: WRITE, required: "flexibility.commitments.write" },
  delete: { accepted: WRITE, required: "flexibility.commitments.write" },
  settle: { accepted: WRITE, required: "flexibility.commitments.write" },
  export: { accepted: ["flexibility.commitments.export"], required: "flexibility.commitments.export" },
  record: { accepted: ["flexibility.admin"], required: "flexibility.admin" },
  erase: { accepted: ["flexibility.admin"], required: "flexibility.admin" },
  webhook: { accepted: ["flexibility.admin"], required: "flexibility.admin" },
};

function field(x: unknown, key: string): unknown {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return undefined;
  return Object.hasOwn(x, key) ? (x as Rec)[key] : undefined;
}

function deny(reason: string): Decision {
  return { allow: false, reason };
}

/** Reading a calendar feed by its secret: subject null (not absent), action read, the feed's owner resolved. */
function isFeedReadBySecret(input: unknown): boolean {
  const resource = field(input, "resource");
  const owner = field(field(resource, "attributes"), "owner_id");
  return (
    field(input, "subject") === null &&
    field(field(input, "action"), "name") === "read" &&
    field(resource, "type") === "calendar_feed" &&
    typeof owner === "string" &&
    owner !== ""
  );
}

export function decideAccessByHand(input: unknown): Decision {
  if (isFeedReadBySecret(input)) return { allow: true, reason: "allowed" };
  const subject = field(input, "subject");
  const id = field(subject, "id");
  if (typeof id !== "string" || id === "") return deny("authentication required");
  const isService = field(subject, "is_service");
  if (isService !== true && isService !== false) return deny("invalid subject: is_service must be a boolean");
  const name = field(field(input, "action"), "name");
  if (!isService) {
    if (typeof name !== "string" || !PARTICIPANT_ACTIONS.has(name)) return deny("action not permitted");
    const owner = field(field(field(input, "resource"), "attributes"), "owner_id");
    if (typeof owner !== "string" || owner !== id) return deny("not resource owner");
    return { allow: true, reason: "allowed" };
  }
  const rule =
    typeof name === "string" && Object.hasOwn(SERVICE_SCOPES, name) ? SERVICE_SCOPES[name] : undefined;
  if (!rule) return deny("action not permitted");
  const scopes = field(subject, "scopes");
  const granted =
    Array.isArray(scopes) && scopes.some((s) => typeof s === "string" && rule.accepted.includes(s));
  if (!granted) return deny(`missing scope ${rule.required}`);
  return { allow: true, reason: "allowed" };
}
