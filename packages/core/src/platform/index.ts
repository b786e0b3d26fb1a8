// The ports core calls the CELINE platform through (Digital Twin, nudging tool, registry, broker);
// packages/platform implements them.
export type {
  DigitalTwin,
  DtAuth,
  Membership,
  NudgeEvent,
  NudgeOutcome,
  Nudging,
  Platform,
  Publisher,
  RawRow,
  Registry,
  RegistryCommunity,
  RegistryMember,
  WebhookRequest,
  WebhookSender,
} from "./ports.ts";
export { unconfiguredPlatform } from "./unconfigured.ts";
