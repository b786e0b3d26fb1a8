// Reminders: the nudges a member gets before a committed window.
export { COMMITTED_EVENT, commitmentEvent } from "./reminder-event.ts";
export { sendDueReminders } from "./send-due-reminders.ts";
