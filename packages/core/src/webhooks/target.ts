// Which URLs may receive webhooks. Outside development a target must be https and every address its
// host resolves to must be public: a subscription must never turn this service into a way to reach
// its own network (SSRF) — loopback, RFC 1918 and unique-local ranges, link-local (where the cloud
// metadata services live), CGNAT, unspecified, multicast and reserved addresses are refused, also
// when wrapped in an IPv6 form (v4-mapped, v4-compatible, NAT64, 6to4). Checked at creation and
// again before every delivery: DNS may change in between. Pure, apart from the resolver handed in.

/** Every address a host name resolves to (A and AAAA); throws when it does not resolve. */
export type Resolve = (hostname: string) => Promise<string[]>;

export type TargetRule = {
  /** CELINE_ENV=dev: http and any address (receivers on this machine); nothing is resolved. */
  allowPrivate: boolean;
  resolve: Resolve;
};

/**
 * The verdict on a target: refused (why), or allowed with the addresses it was checked at — null
 * where nothing was resolved (development). A delivery connects to those addresses only, so a name
 * that changes its answer after the check cannot steer the POST elsewhere.
 */
export type TargetCheck = { refusal: string } | { refusal: null; addresses: string[] | null };

/**
 * Check `url` against the rule. A host that does not resolve throws the resolver's error: the caller
 * decides whether that is a refusal (creation) or a retry (delivery).
 */
export async function checkTarget(url: string, rule: TargetRule): Promise<TargetCheck> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { refusal: "not a URL" };
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:")
    return { refusal: "must be an http(s) URL" };
  if (parsed.username || parsed.password) return { refusal: "must not carry credentials" };
  if (rule.allowPrivate) return { refusal: null, addresses: null };
  if (parsed.protocol !== "https:") return { refusal: "must be https" };
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  const literal = parseAddress(host);
  const addresses = literal ? [host] : await rule.resolve(host);
  if (addresses.length === 0) return { refusal: `${host} resolves to no address` };
  for (const address of addresses) {
    const why = forbiddenAddress(address);
    if (why) {
      return {
        refusal: literal
          ? `${address} is a ${why} address`
          : `${host} resolves to ${address}, a ${why} address`,
      };
    }
  }
  return { refusal: null, addresses };
}

/** Why `url` may not receive webhooks, or null when it may (see checkTarget). */
export async function targetRefusal(url: string, rule: TargetRule): Promise<string | null> {
  return (await checkTarget(url, rule)).refusal;
}

type Range = { base: number[]; bits: number; why: string };

const v4 = (cidr: string, why: string): Range => {
  const [address = "", bits = "32"] = cidr.split("/");
  return { base: parseIpv4(address) ?? [], bits: Number(bits), why };
};

// Most specific first: the first match names the reason.
const IPV4_FORBIDDEN: Range[] = [
  v4("169.254.169.254/32", "cloud metadata"),
  v4("169.254.170.2/32", "cloud metadata"),
  v4("100.100.100.200/32", "cloud metadata"),
  v4("192.0.0.192/32", "cloud metadata"),
  v4("0.0.0.0/8", "unspecified"),
  v4("10.0.0.0/8", "private"),
  v4("100.64.0.0/10", "CGNAT"),
  v4("127.0.0.0/8", "loopback"),
  v4("169.254.0.0/16", "link-local"),
  v4("172.16.0.0/12", "private"),
  v4("192.0.0.0/24", "reserved"),
  v4("192.168.0.0/16", "private"),
  v4("198.18.0.0/15", "reserved"),
  v4("224.0.0.0/4", "multicast"),
  v4("240.0.0.0/4", "reserved"),
];

const v6 = (cidr: string, why: string): Range => {
  const [address = "", bits = "128"] = cidr.split("/");
  return { base: parseIpv6(address) ?? [], bits: Number(bits), why };
};

const IPV6_FORBIDDEN: Range[] = [
  v6("fd00:ec2::254/128", "cloud metadata"),
  v6("::/128", "unspecified"),
  v6("::1/128", "loopback"),
  v6("64:ff9b:1::/48", "private"),
  v6("100::/64", "reserved"),
  v6("fc00::/7", "private"),
  v6("fe80::/10", "link-local"),
  v6("fec0::/10", "private"),
  v6("ff00::/8", "multicast"),
];

/** IPv6 prefixes that carry an IPv4 address, and where: checked as that IPv4 address. */
const IPV4_IN_IPV6: { prefix: Range; at: number }[] = [
  { prefix: v6("::ffff:0:0/96", ""), at: 12 },
  { prefix: v6("::/96", ""), at: 12 },
  { prefix: v6("64:ff9b::/96", ""), at: 12 },
  { prefix: v6("2002::/16", ""), at: 2 },
];

/** Why an address may not receive webhooks (`loopback`, `private`…), or null when it is public. */
export function forbiddenAddress(address: string): string | null {
  const bytes = parseAddress(address);
  if (!bytes) return "unparsable";
  if (bytes.length === 4) return matchOf(bytes, IPV4_FORBIDDEN);
  const why = matchOf(bytes, IPV6_FORBIDDEN);
  if (why) return why;
  for (const { prefix, at } of IPV4_IN_IPV6) {
    if (within(bytes, prefix)) {
      const embedded = matchOf(bytes.slice(at, at + 4), IPV4_FORBIDDEN);
      if (embedded) return embedded;
    }
  }
  return null;
}

function matchOf(bytes: number[], ranges: Range[]): string | null {
  return ranges.find((range) => within(bytes, range))?.why ?? null;
}

function within(bytes: number[], { base, bits }: Range): boolean {
  if (base.length !== bytes.length) return false;
  for (let bit = 0; bit < bits; bit += 8) {
    const mask = bits - bit >= 8 ? 0xff : (0xff << (8 - (bits - bit))) & 0xff;
    const i = bit / 8;
    if (((bytes[i] ?? 0) & mask) !== ((base[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** The bytes of an IPv4 (4) or IPv6 (16) address literal; null for anything else (a host name). */
export function parseAddress(text: string): number[] | null {
  return parseIpv4(text) ?? parseIpv6(text);
}

function parseIpv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : Number.NaN));
  return bytes.every((b) => b >= 0 && b <= 255) ? bytes : null;
}

function parseIpv6(text: string): number[] | null {
  // A zone (fe80::1%eth0) names an interface of this machine: the address is what matters.
  const address = text.split("%")[0] ?? "";
  if (!address.includes(":")) return null;
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes(".")) {
        const tail = parseIpv4(piece);
        if (!tail) return null;
        out.push(((tail[0] ?? 0) << 8) | (tail[1] ?? 0), ((tail[2] ?? 0) << 8) | (tail[3] ?? 0));
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) out.push(Number.parseInt(piece, 16));
      else return null;
    }
    return out;
  };
  const head = groupsOf(halves[0] ?? "");
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? "") : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<number>(missing).fill(0), ...tail];
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}
