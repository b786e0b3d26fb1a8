import { createRouter } from "../openapi.ts";
import * as erase from "./erase.ts";

export const members = createRouter().openapi(erase.route, erase.handler);
