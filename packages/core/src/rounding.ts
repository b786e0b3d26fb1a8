// Points are whole numbers computed from kWh. One rounding rule for every place that turns kWh into
// points (opportunity broadcasts, settlement, suggestions), so an announced reward and a settled
// one never disagree by one point.

/**
 * Round half away from zero (2.5 → 3, -2.5 → -3). Binary floating point turns 1.15 × 10 into
 * 11.499999999999998; the value is first snapped to 9 decimals, so such products round as their
 * decimal reading says.
 */
export function roundHalfUp(value: number): number {
  if (!Number.isFinite(value)) throw new RangeError(`cannot round ${value}`);
  const magnitude = Number(Math.abs(value).toFixed(9));
  const rounded = Math.floor(magnitude + 0.5);
  // `|| 0`: -0.4 rounds to 0, not -0.
  return value < 0 ? -rounded || 0 : rounded;
}

/** Reward points for an amount of energy: round_half_up(kWh × points per kWh). */
export function pointsForKwh(kwh: number, pointsPerKwh: number): number {
  return roundHalfUp(kwh * pointsPerKwh);
}
