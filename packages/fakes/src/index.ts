export type { BearerCheck, Caller, TrustedIssuer } from "./bearer-auth.ts";
export { classifyClaims, describeCaller, verifyBearer } from "./bearer-auth.ts";
export type {
  DigitalTwin,
  DigitalTwinOptions,
  DtAsset,
  DtConsumptionRow,
  DtMembership,
  DtProfile,
  DtRow,
} from "./digital-twin.ts";
export { parseUtc, startDigitalTwin, toNaiveUtc } from "./digital-twin.ts";
export type { FaultControls, FaultScope, RecordedCall } from "./fault-controls.ts";
export type { EmbeddedBroker, EmbeddedBrokerOptions, TestBroker } from "./mqtt-broker.ts";
export { matchesFilter, startEmbeddedBroker, testBrokerUrl } from "./mqtt-broker.ts";
export type {
  IngestEvent,
  NudgeOutcome,
  NudgeScenario,
  NudgingTool,
  NudgingToolOptions,
  ReceivedNudge,
  ScheduledEvent,
} from "./nudging-tool.ts";
export { requiredFacts, startNudgingTool } from "./nudging-tool.ts";
export type {
  ForgeryKind,
  MintOptions,
  OidcClient,
  OidcIssuer,
  OidcIssuerOptions,
  RawMintOptions,
} from "./oidc-issuer.ts";
export { defaultOidcClients, forgeryKinds, startOidcIssuer } from "./oidc-issuer.ts";
export type { RecRegistry, RecRegistryOptions, RegistryCommunity, RegistryMember } from "./rec-registry.ts";
export { startRecRegistry } from "./rec-registry.ts";
export type { ServedApp } from "./serve-app.ts";
export { serveApp } from "./serve-app.ts";
export type { ReceivedWebhook, WebhookReceiver } from "./webhook-receiver.ts";
export { startWebhookReceiver } from "./webhook-receiver.ts";
