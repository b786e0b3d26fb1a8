// Counters and summaries kept in memory and rendered in the Prometheus text format for /metrics.
// Small on purpose: a handful of series per process, labels as plain string maps.

export type Labels = Record<string, string>;

export type Metrics = {
  /** Add `by` (default 1) to a counter. */
  inc(name: string, labels?: Labels, by?: number): void;
  /** Record one observation (e.g. seconds) into a summary (count and sum). */
  observe(name: string, value: number, labels?: Labels): void;
  /** The current value of a counter (for tests and readiness). */
  value(name: string, labels?: Labels): number;
  render(): string;
};

export function createMetrics(): Metrics {
  const counters = new Map<string, Map<string, number>>();
  const summaries = new Map<string, Map<string, { count: number; sum: number }>>();
  const key = (labels: Labels = {}) =>
    Object.keys(labels)
      .sort()
      .map((k) => `${k}="${String(labels[k]).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`)
      .join(",");
  const series = <T>(store: Map<string, Map<string, T>>, name: string) => {
    const existing = store.get(name);
    if (existing) return existing;
    const created = new Map<string, T>();
    store.set(name, created);
    return created;
  };
  return {
    inc(name, labels, by = 1) {
      const s = series(counters, name);
      const k = key(labels);
      s.set(k, (s.get(k) ?? 0) + by);
    },
    observe(name, value, labels) {
      const s = series(summaries, name);
      const k = key(labels);
      const entry = s.get(k) ?? { count: 0, sum: 0 };
      entry.count += 1;
      entry.sum += value;
      s.set(k, entry);
    },
    value(name, labels) {
      return counters.get(name)?.get(key(labels)) ?? 0;
    },
    render() {
      const lines: string[] = [];
      for (const [name, s] of counters) {
        lines.push(`# TYPE ${name} counter`);
        for (const [k, v] of s) lines.push(`${name}${k ? `{${k}}` : ""} ${v}`);
      }
      for (const [name, s] of summaries) {
        lines.push(`# TYPE ${name} summary`);
        for (const [k, v] of s) {
          lines.push(`${name}_count${k ? `{${k}}` : ""} ${v.count}`);
          lines.push(`${name}_sum${k ? `{${k}}` : ""} ${v.sum}`);
        }
      }
      return `${lines.join("\n")}\n`;
    },
  };
}
