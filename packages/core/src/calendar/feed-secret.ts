// A calendar feed's secret: 256 random bits in its URL, stored only as their SHA-256.

/** 32 bytes = 256 bits, written as 43 base64url characters. */
const SECRET_BYTES = 32;
const FEED_NAME = /^([A-Za-z0-9_-]{43})\.ics$/;

/** A fresh secret (crypto.getRandomValues), base64url without padding. */
export function newFeedSecret(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

/** What is stored for a secret: its SHA-256, hex. */
export function hashFeedSecret(secret: string): Promise<string> {
  return sha256Hex(secret);
}

/** SHA-256 of UTF-8 text, 64 lowercase hex digits. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The secret in a feed's file name (`<secret>.ics`); null when the name cannot be one. */
export function secretOfFeed(feed: string): string | null {
  return FEED_NAME.exec(feed)?.[1] ?? null;
}

/** The feed's address under the API's public URL. */
export function feedUrl(publicUrl: string, secret: string): string {
  return `${publicUrl}/api/calendar/${secret}.ics`;
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}
