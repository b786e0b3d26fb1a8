import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import {
  DEFAULT_METHOD,
  describeMethod,
  type MethodParse,
  parseSettlementMethod,
  type SettlementMethod,
  USED_KEYS,
} from "../src/settlement/method.ts";

// config/flexibility.yaml is in the platform pipeline's format (issue "Points a member can trust",
// item 8): same sections and keys, keys we do not use accepted, an invalid value of a key we use
// refused by its path, POINTS_PER_KWH overriding bonus_rate_points_per_kwh.

const SHIPPED = readFileSync(new URL("../../../config/flexibility.yaml", import.meta.url), "utf8");

type Tree = Record<string, unknown>;

/** The shipped file as a plain tree, edited, and written back as YAML text. */
function shippedWith(edit: (doc: Tree) => void): string {
  const doc = parseYaml(SHIPPED) as Tree;
  edit(doc);
  return stringifyYaml(doc);
}

function parentOf(doc: Tree, path: string): { parent: Tree; key: string } {
  const keys = path.split(".");
  const key = keys.pop() ?? "";
  let parent: Tree = doc;
  for (const k of keys) parent = parent[k] as Tree;
  return { parent, key };
}

function setKey(doc: Tree, path: string, value: unknown) {
  const { parent, key } = parentOf(doc, path);
  parent[key] = value;
}

function deleteKey(doc: Tree, path: string) {
  const { parent, key } = parentOf(doc, path);
  delete parent[key];
}

function methodOf(result: MethodParse): SettlementMethod {
  if (!result.ok) throw new Error(`expected the YAML to parse, got: ${result.problems.join("; ")}`);
  return result.method;
}

function problemsOf(result: MethodParse): string[] {
  if (result.ok) throw new Error("expected the YAML to be refused, but it parsed");
  return result.problems;
}

describe("the shipped config/flexibility.yaml", () => {
  test("parses to DEFAULT_METHOD, value for value", () => {
    expect(methodOf(parseSettlementMethod(SHIPPED))).toEqual(DEFAULT_METHOD);
  });

  test("holds every key the service reads, at the pipeline's path", () => {
    const doc = parseYaml(SHIPPED) as Tree;
    const missing = USED_KEYS.filter((path) => {
      const { parent, key } = parentOf(doc, path);
      return parent === undefined || !(key in parent);
    });
    expect(missing).toEqual([]);
  });

  test("the method's numbers are the pipeline's defaults: High 4 of 7 over 90 days, 5 % trim, 15 points per kWh", () => {
    const m = methodOf(parseSettlementMethod(SHIPPED));
    expect(m.baseline).toMatchObject({
      lookbackDays: 90,
      winsorizePct: 0.05,
      candidateDays: 7,
      selectDays: 4,
    });
    expect(m.points).toMatchObject({
      ratePerKwh: 15,
      minShiftKw: 0.05,
      minShiftFraction: 0.05,
      accuracyFloor: 0.5,
    });
    expect(m.adjustment).toMatchObject({ direction: "upward_only", maxCapFraction: 0.2, windowHours: 2 });
    expect(m.cap).toMatchObject({ multiplier: 2, minWindows: 5, lookbackDays: 30 });
    expect(m.season).toEqual({ anchorDate: "2025-09-01", monthsPerSeason: 2 });
  });
});

describe("a file in the pipeline's own format is accepted unchanged", () => {
  // A file written the way the pipeline writes its flexibility_config.yaml: comments above and
  // beside values, an unquoted date, every section including the ones we ignore, keys we do not
  // read inside the sections we do. (Written for this test, not copied. The pipeline's own file,
  // celine-pipelines@74d94b1 apps/rec_flexibility/flexibility_config.yaml, was checked by hand to
  // parse to DEFAULT_METHOD as it is.)
  const PIPELINE_STYLE = `# Points configuration, pipeline style
fleet:
  active_devices: []          # kept out of git
season:
  anchor_date: 2025-09-01
  months_per_season: 2
baseline:
  candidate_days: 7           # High X of Y
  select_days: 4
  min_readings_per_day: 90
  outlier_threshold_fraction: 0.25
  same_day_adjustment:
    enabled: true
    direction: upward_only    # or bidirectional
    max_cap_fraction: 0.20
    window_hours: 2
  onboarding:
    min_days_for_own_baseline: 7
  bonus_reference:
    method: high_4_of_7
    recalibration_frequency: daily
    lookback_days: 90
    winsorize_pct: 0.05
settlement:
  base_rate_points_per_kwh: 10
  scaling: logarithmic
  effort_multiplier_tiers:
    - ratio_min: 0.0
      multiplier: 0.25
flexibility_bonus:
  bonus_rate_points_per_kwh: 15
  min_shift_kw: 0.05
  min_shift_fraction: 0.05
  min_window_duration_hours: 1.0
  forecast_accuracy:
    floor: 0.5
    # factor = max(floor, surplus / intervals)
  shift_effort_tiers:
    - shift_pct_min: 0.05
      multiplier: 1.0
    - shift_pct_min: 0.25
      multiplier: 1.5
    - shift_pct_min: 0.50
      multiplier: 2.0
    - shift_pct_min: 1.00
      multiplier: 2.5
  event_multiplier_tiers:
    - ratio_min: 0.0
      multiplier: 1.0
  streak:
    increment_per_response: 0.05
    max_multiplier: 1.5
    decay_period: weekly
    decay_per_period: 1
    availability_threshold_kw: 0.1
    floor_fraction: 0.5
anti_gaming:
  validation_window_fraction: 0.15
  per_window_bonus_cap_multiplier: 2.0
  min_windows_for_device_cap: 5
  anomaly_flags:
    daily_spike_multiplier: 10
  offline:
    inactive_threshold_hours: 72
`;

  test("a pipeline-style file with comments, an unquoted date and sections we ignore parses to DEFAULT_METHOD", () => {
    expect(methodOf(parseSettlementMethod(PIPELINE_STYLE))).toEqual(DEFAULT_METHOD);
  });

  test("unknown keys anywhere (top level, every section, nested blocks, tier entries) are accepted and change nothing", () => {
    const text = shippedWith((doc) => {
      doc.new_top_level_section = { anything: [1, 2, 3] };
      setKey(doc, "season.reset_hour", 0);
      setKey(doc, "baseline.future_knob", "x");
      setKey(doc, "baseline.same_day_adjustment.note", "y");
      setKey(doc, "baseline.bonus_reference.extra", { nested: true });
      setKey(doc, "flexibility_bonus.forecast_accuracy.ceiling", 1);
      setKey(doc, "flexibility_bonus.streak.reset_on_season", false);
      setKey(doc, "anti_gaming.new_flag", 3);
      const tiers = (doc.flexibility_bonus as Tree).shift_effort_tiers as Tree[];
      for (const tier of tiers) tier.label = "tier";
    });
    expect(methodOf(parseSettlementMethod(text))).toEqual(DEFAULT_METHOD);
  });

  test("only the keys we read are needed: a file without the unused ones still parses to DEFAULT_METHOD", () => {
    const text = shippedWith((doc) => {
      delete doc.fleet;
      delete doc.settlement;
      deleteKey(doc, "baseline.onboarding");
      deleteKey(doc, "baseline.min_readings_per_day");
      deleteKey(doc, "flexibility_bonus.event_multiplier_tiers");
      deleteKey(doc, "flexibility_bonus.streak.availability_threshold_kw");
      deleteKey(doc, "anti_gaming.anomaly_flags");
    });
    expect(methodOf(parseSettlementMethod(text))).toEqual(DEFAULT_METHOD);
  });

  test("a YAML 1.1 file, where the unquoted anchor date is a timestamp, still reads 2025-09-01", () => {
    const m = methodOf(parseSettlementMethod(`%YAML 1.1\n---\n${SHIPPED}`));
    expect(m.season.anchorDate).toBe("2025-09-01");
  });

  test("a quoted anchor date reads the same", () => {
    const m = methodOf(
      parseSettlementMethod(SHIPPED.replace("anchor_date: 2025-09-01", 'anchor_date: "2025-09-01"')),
    );
    expect(m.season.anchorDate).toBe("2025-09-01");
  });

  test("tiers written out of order are sorted ascending by shift_pct_min", () => {
    const text = shippedWith((doc) => {
      setKey(doc, "flexibility_bonus.shift_effort_tiers", [
        { shift_pct_min: 1.0, multiplier: 2.5 },
        { shift_pct_min: 0.05, multiplier: 1.0 },
        { shift_pct_min: 0.5, multiplier: 2.0 },
        { shift_pct_min: 0.25, multiplier: 1.5 },
      ]);
    });
    expect(methodOf(parseSettlementMethod(text)).points.effortTiers).toEqual([
      { minFraction: 0.05, multiplier: 1 },
      { minFraction: 0.25, multiplier: 1.5 },
      { minFraction: 0.5, multiplier: 2 },
      { minFraction: 1, multiplier: 2.5 },
    ]);
  });
});

describe("an invalid value of a key we read refuses the file, naming the key", () => {
  // One row per kind of key: [path, invalid value, why it is invalid].
  const cases: [string, unknown, string][] = [
    ["season.anchor_date", "September", "not a date"],
    ["season.anchor_date", "2025-02-30", "a day that does not exist"],
    ["season.months_per_season", 0, "a season of no months"],
    ["season.months_per_season", 1.5, "not whole months"],
    ["baseline.candidate_days", 0, "no candidates"],
    ["baseline.select_days", -1, "negative"],
    ["baseline.select_days", "four", "not a number"],
    ["baseline.same_day_adjustment.enabled", "yes", "a string, not a boolean (YAML 1.2)"],
    ["baseline.same_day_adjustment.direction", "downward_only", "not a direction"],
    ["baseline.same_day_adjustment.max_cap_fraction", -0.2, "negative"],
    ["baseline.same_day_adjustment.window_hours", 0, "an empty window"],
    ["baseline.same_day_adjustment.window_hours", 25, "more than a day"],
    ["baseline.bonus_reference.method", "mean_of_10", "another method"],
    ["baseline.bonus_reference.lookback_days", 0, "no look-back"],
    ["baseline.bonus_reference.lookback_days", 89.5, "not whole days"],
    ["baseline.bonus_reference.winsorize_pct", 0.5, "trims everything"],
    ["baseline.bonus_reference.winsorize_pct", -0.05, "negative"],
    ["flexibility_bonus.bonus_rate_points_per_kwh", -15, "negative"],
    ["flexibility_bonus.min_shift_kw", -0.05, "negative"],
    ["flexibility_bonus.min_shift_fraction", "5%", "a string"],
    ["flexibility_bonus.forecast_accuracy.floor", 1.5, "above 1"],
    ["flexibility_bonus.shift_effort_tiers", [], "no tier"],
    ["flexibility_bonus.shift_effort_tiers", "1.0", "not a list"],
    ["flexibility_bonus.streak.increment_per_response", 0, "no increment"],
    ["flexibility_bonus.streak.max_multiplier", 0.9, "below 1"],
    ["flexibility_bonus.streak.decay_period", "daily", "not weekly"],
    ["flexibility_bonus.streak.decay_per_period", -1, "negative"],
    ["flexibility_bonus.streak.decay_per_period", 0.5, "not whole levels"],
    ["flexibility_bonus.streak.floor_fraction", 1.2, "above 1"],
    ["anti_gaming.per_window_bonus_cap_multiplier", 0, "a cap of nothing"],
    ["anti_gaming.min_windows_for_device_cap", 0, "no windows"],
  ];

  for (const [path, value, why] of cases) {
    test(`${path} = ${JSON.stringify(value)} (${why}) → refused naming ${path}`, () => {
      const problems = problemsOf(parseSettlementMethod(shippedWith((doc) => setKey(doc, path, value))));
      expect(problems).toHaveLength(1);
      expect(problems[0]?.startsWith(`${path}:`)).toBe(true);
    });
  }

  test("a tier without its multiplier is named down to the entry: flexibility_bonus.shift_effort_tiers.2.multiplier", () => {
    const text = shippedWith((doc) => {
      const tiers = (doc.flexibility_bonus as Tree).shift_effort_tiers as Tree[];
      delete tiers[2]?.multiplier;
    });
    const problems = problemsOf(parseSettlementMethod(text));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.startsWith("flexibility_bonus.shift_effort_tiers.2.multiplier:")).toBe(true);
  });

  test("two tiers with the same shift_pct_min are refused", () => {
    const text = shippedWith((doc) => {
      const tiers = (doc.flexibility_bonus as Tree).shift_effort_tiers as Tree[];
      if (tiers[1]) tiers[1].shift_pct_min = 0.05;
    });
    const problems = problemsOf(parseSettlementMethod(text));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.startsWith("flexibility_bonus.shift_effort_tiers:")).toBe(true);
  });

  // bonus_reference.method only confirms the method; without it the method is still High 4 of 7.
  const required = USED_KEYS.filter((path) => path !== "baseline.bonus_reference.method");
  for (const path of required) {
    test(`a missing ${path} is refused, named`, () => {
      const problems = problemsOf(parseSettlementMethod(shippedWith((doc) => deleteKey(doc, path))));
      expect(problems.some((p) => p.startsWith(`${path}:`))).toBe(true);
    });
  }

  test("a missing section is named by its own key", () => {
    const problems = problemsOf(parseSettlementMethod(shippedWith((doc) => delete doc.anti_gaming)));
    expect(problems).toEqual([expect.stringMatching(/^anti_gaming:/)]);
  });

  test("several invalid values are named at once, each by its path", () => {
    const text = shippedWith((doc) => {
      setKey(doc, "flexibility_bonus.min_shift_kw", -1);
      setKey(doc, "baseline.bonus_reference.lookback_days", "ninety");
      setKey(doc, "flexibility_bonus.streak.decay_period", "monthly");
      setKey(doc, "season.months_per_season", 0);
    });
    const problems = problemsOf(parseSettlementMethod(text));
    const named = problems.map((p) => p.slice(0, p.indexOf(":"))).sort();
    expect(named).toEqual([
      "baseline.bonus_reference.lookback_days",
      "flexibility_bonus.min_shift_kw",
      "flexibility_bonus.streak.decay_period",
      "season.months_per_season",
    ]);
  });

  test("text that is not YAML is refused as such", () => {
    const problems = problemsOf(parseSettlementMethod("season: [unclosed"));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.startsWith("not YAML:")).toBe(true);
  });

  test("an empty file is refused (it has none of the keys)", () => {
    expect(problemsOf(parseSettlementMethod("")).length).toBeGreaterThan(0);
  });
});

describe("select_days and candidate_days", () => {
  test("select_days 8 of candidate_days 7 is refused, naming baseline.select_days", () => {
    const problems = problemsOf(
      parseSettlementMethod(shippedWith((doc) => setKey(doc, "baseline.select_days", 8))),
    );
    expect(problems).toEqual([expect.stringMatching(/^baseline\.select_days:/)]);
  });

  test("select_days equal to candidate_days (7 of 7, a plain mean) is accepted", () => {
    const m = methodOf(parseSettlementMethod(shippedWith((doc) => setKey(doc, "baseline.select_days", 7))));
    expect(m.baseline).toMatchObject({ candidateDays: 7, selectDays: 7 });
  });
});

describe("POINTS_PER_KWH overrides bonus_rate_points_per_kwh", () => {
  test("an override of 20 sets the rate to 20 and changes nothing else", () => {
    const m = methodOf(parseSettlementMethod(SHIPPED, { pointsPerKwh: 20 }));
    expect(m.points.ratePerKwh).toBe(20);
    expect({ ...m, points: { ...m.points, ratePerKwh: 15 } }).toEqual(DEFAULT_METHOD);
  });

  test("an override of 0 is an override (0 points per kWh), not a missing value", () => {
    expect(methodOf(parseSettlementMethod(SHIPPED, { pointsPerKwh: 0 })).points.ratePerKwh).toBe(0);
  });

  test("no override (undefined) keeps the YAML's 15", () => {
    expect(methodOf(parseSettlementMethod(SHIPPED, { pointsPerKwh: undefined })).points.ratePerKwh).toBe(15);
  });

  test("the override also applies over a YAML that says 12", () => {
    const text = shippedWith((doc) => setKey(doc, "flexibility_bonus.bonus_rate_points_per_kwh", 12));
    expect(methodOf(parseSettlementMethod(text)).points.ratePerKwh).toBe(12);
    expect(methodOf(parseSettlementMethod(text, { pointsPerKwh: 9 })).points.ratePerKwh).toBe(9);
  });
});

describe("the streak's top level", () => {
  const levelFor = (maxMultiplier: number, increment: number) =>
    methodOf(
      parseSettlementMethod(
        shippedWith((doc) => {
          setKey(doc, "flexibility_bonus.streak.max_multiplier", maxMultiplier);
          setKey(doc, "flexibility_bonus.streak.increment_per_response", increment);
        }),
      ),
    ).streak.maxLevel;

  test("max 1.5 at +0.05 a level tops out at level 10 (not 9: (1.5 − 1) / 0.05 is 9.999… in binary)", () => {
    expect(levelFor(1.5, 0.05)).toBe(10);
  });

  test("max 2.0 at +0.1 → 10; max 1.5 at +0.1 → 5; max 1.25 at +0.1 → 2 (2.5 rounds down); max 1.0 → 0", () => {
    expect([levelFor(2, 0.1), levelFor(1.5, 0.1), levelFor(1.25, 0.1), levelFor(1, 0.05)]).toEqual([
      10, 5, 2, 0,
    ]);
  });
});

describe("describeMethod: the method as GET /api/settlement/method shows it", () => {
  test("shows the zone, the interval in minutes, the 02:00 earliest notice and the tiers in wire names", () => {
    const shown = describeMethod(DEFAULT_METHOD, { timeZone: "Europe/Rome", intervalMs: 15 * 60_000 });
    expect(shown.time_zone).toBe("Europe/Rome");
    expect(shown.reading_interval_minutes).toBe(15);
    expect(shown.adjustment.earliest_notice_local).toBe("02:00");
    expect(shown.points.rate_per_kwh).toBe(15);
    expect(shown.points.effort_tiers[3]).toEqual({ min_fraction: 1, multiplier: 2.5 });
    expect(shown.streak.max_level).toBe(10);
    expect(shown.baseline).toEqual({
      lookback_days: 90,
      winsorize_pct: 0.05,
      candidate_days: 7,
      select_days: 4,
      min_candidates: 3,
    });
  });
});
