/** The claims of a JWT, unverified: tests only look at what the issuer put in. */
export function decodeJwt(token: string): Record<string, unknown> {
  const payload = token.split(".")[1] ?? "";
  const json = atob(payload.replaceAll("-", "+").replaceAll("_", "/"));
  return JSON.parse(json) as Record<string, unknown>;
}
