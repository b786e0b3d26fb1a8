import { createRouter } from "../openapi.ts";
import * as createToken from "./create-token.ts";
import * as feed from "./feed.ts";

/** The calendar routes. A feed's fetches are rate-limited by the app's limits (class `feed`, per feed). */
export function calendar() {
  return createRouter().openapi(createToken.route, createToken.handler).openapi(feed.route, feed.handler);
}
