// @celine/api/testing: the real app over a fresh database with the platform's contract fakes, for
// other packages' tests (the client's suites). Nothing here starts until called.
export { createHarness, type Harness, POLICY_DIR } from "./harness.ts";
export { createWindowPublisher, type PublishOptions, type WindowPublisher } from "./published-windows.ts";
export { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";
