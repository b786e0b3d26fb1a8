import { createRouter } from "../openapi.ts";
import * as leaderboard from "./leaderboard.ts";
import * as me from "./me.ts";
import * as preferences from "./preferences.ts";

export const points = createRouter()
  .openapi(me.route, me.handler)
  .openapi(preferences.route, preferences.handler)
  .openapi(leaderboard.route, leaderboard.handler);
