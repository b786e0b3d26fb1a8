import { createRouter } from "../openapi.ts";
import * as list from "./list.ts";
import * as respond from "./respond.ts";

export const suggestions = createRouter()
  .openapi(list.route, list.handler)
  .openapi(respond.route, respond.handler);
