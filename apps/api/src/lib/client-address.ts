import type { Context } from "hono";

// Who sent a request that carries no verified identity, for the per-address limit. Behind a proxy the
// socket's peer is the proxy: CLIENT_IP_HEADER names the header it writes the client's address into.

/** The runtime's peer address of the connection (Bun's requestIP, Node's socket); absent on the edge. */
export type SocketAddress = (c: Context) => string | undefined;

/**
 * The client's address as a rate-limit key, or null when none is known (then no per-address limit
 * applies). From `header` when set and present — a list (X-Forwarded-For) gives its last entry, the
 * one our own proxy appended: the entries before it are whatever the client claimed — else from the
 * socket. IPv6 addresses count per /64 (one subscriber's block), IPv4-mapped ones as IPv4.
 */
export function clientAddressOf(
  c: Context,
  header: string | undefined,
  socket?: SocketAddress,
): string | null {
  const claimed = header ? c.req.header(header) : undefined;
  const raw = claimed
    ? claimed.split(",").at(-1)?.trim()
    : (() => {
        try {
          return socket?.(c);
        } catch {
          return undefined;
        }
      })();
  return raw ? addressKey(raw) : null;
}

/** `1.2.3.4`, or an IPv6 address's first four groups (`2001:db8:0:1::/64`); null when not an address. */
export function addressKey(raw: string): string | null {
  const text = raw.replace(/^\[|\](:\d+)?$/g, "").toLowerCase();
  const mapped = /^(?:0{0,4}:){0,5}(?:ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (mapped?.[1]) return mapped[1];
  if (/^\d{1,3}(\.\d{1,3}){3}(:\d+)?$/.test(text)) return text.replace(/:\d+$/, "");
  const groups = expandIpv6(text.replace(/%.*$/, ""));
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : null;
}

/** The eight groups of an IPv6 address (without leading zeros), or null. */
function expandIpv6(text: string): string[] | null {
  if (!/^[0-9a-f:]{2,39}$/.test(text) || (text.match(/::/g) ?? []).length > 1) return null;
  const [head = "", tail] = text.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const groups = [...left, ...Array<string>(missing).fill("0"), ...right];
  if (groups.some((g) => g.length === 0 || g.length > 4)) return null;
  return groups.map((g) => g.replace(/^0+(?=.)/, ""));
}
