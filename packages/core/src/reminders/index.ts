// Reminders: the nudges a member gets before a committed window.
export { COMMITTED_EVENT, commitmentEvent, REMINDER_EVENT, reminderEvent } from "./reminder-event.ts";
export {
  type DueReminders,
  REMINDERS_FAILED,
  REMINDERS_SENT,
  sendDueReminders,
} from "./send-due-reminders.ts";
