import { createRouter } from "../openapi.ts";
import * as create from "./create.ts";
import * as remove from "./delete.ts";
import * as list from "./list.ts";
import * as test from "./test.ts";

export const webhooks = createRouter()
  .openapi(create.route, create.handler)
  .openapi(list.route, list.handler)
  .openapi(remove.route, remove.handler)
  .openapi(test.route, test.handler);
