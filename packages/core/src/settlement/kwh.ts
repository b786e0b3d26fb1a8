import { MICRO_PER_KWH } from "./points.ts";

/** Whole µkWh → a decimal kWh string without trailing zeros (1250000 → "1.25", 0 → "0"). Exact. */
export function formatKwh(microKwh: number): string {
  const micro = Math.round(microKwh);
  const sign = micro < 0 ? "-" : "";
  const abs = Math.abs(micro);
  const whole = Math.floor(abs / MICRO_PER_KWH);
  const fraction = String(abs % MICRO_PER_KWH)
    .padStart(6, "0")
    .replace(/0+$/, "");
  return `${sign}${whole}${fraction ? `.${fraction}` : ""}`;
}

/** Whole µkWh → kWh as a number (for JSON answers). */
export function kwhOf(microKwh: number): number {
  return microKwh / MICRO_PER_KWH;
}
