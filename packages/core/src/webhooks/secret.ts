/** Bytes of a signing secret: Standard Webhooks asks for 24 to 64. */
const SECRET_BYTES = 32;

/**
 * A fresh signing secret in the Standard Webhooks form: `whsec_` + the key, base64 (what
 * `new Webhook(secret)` of the `standardwebhooks` package takes as it is).
 */
export function newWebhookSecret(): string {
  const key = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  return `whsec_${btoa(String.fromCharCode(...key))}`;
}
