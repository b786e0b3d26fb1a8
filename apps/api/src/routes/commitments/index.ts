import { createRouter } from "../openapi.ts";
import * as cancel from "./cancel.ts";
import * as create from "./create.ts";
import * as exporting from "./export.ts";
import * as list from "./list.ts";
import * as pending from "./pending.ts";
import * as progress from "./progress.ts";
import * as settle from "./settle.ts";
import * as settlement from "./settlement.ts";

// Static paths (/pending, /export) before parameterised ones.
export const commitments = createRouter()
  .openapi(pending.route, pending.handler)
  .openapi(exporting.route, exporting.handler)
  .openapi(create.route, create.handler)
  .openapi(list.route, list.handler)
  .openapi(cancel.route, cancel.handler)
  .openapi(settle.route, settle.handler)
  .openapi(settlement.route, settlement.handler)
  .openapi(progress.route, progress.handler);
