import { createRouter } from "../openapi.ts";
import * as method from "./method.ts";

export const settlement = createRouter().openapi(method.route, method.handler);
