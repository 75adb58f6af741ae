/**
 * The shape of one configuration property (Kafka's ConfigDef idea, our code):
 * its type, default, validation and documentation, and the typed parse of a
 * text value. Shared by the broker properties and the topic configs.
 */

/** Kafka's DescribeConfigs ConfigType codes. */
export const ConfigType = {
  UNKNOWN: 0,
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
} as const;

/** Kafka's DescribeConfigs ConfigSource codes. */
export const ConfigSource = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
  CLIENT_METRICS_CONFIG: 7,
  GROUP_CONFIG: 8,
} as const;

export type ConfigKind = 'boolean' | 'string' | 'int' | 'short' | 'long' | 'double' | 'list' | 'class' | 'password';

export const CONFIG_TYPE_OF: Record<ConfigKind, number> = {
  boolean: ConfigType.BOOLEAN,
  string: ConfigType.STRING,
  int: ConfigType.INT,
  short: ConfigType.SHORT,
  long: ConfigType.LONG,
  double: ConfigType.DOUBLE,
  list: ConfigType.LIST,
  class: ConfigType.CLASS,
  password: ConfigType.PASSWORD,
};

export type ConfigValue = boolean | number | string | string[];

/** Returns a problem ("must be at least 1") or null when the value is acceptable. */
export type Validator = (v: ConfigValue) => string | null;

export interface PropertyDef {
  name: string;
  kind: ConfigKind;
  /** The default in text form, as DescribeConfigs reports it; null = no default. */
  default: string | null;
  doc: string;
  validate?: Validator;
}

/** Kafka's Long.MAX_VALUE / Integer.MAX_VALUE as text (what users write in properties files). */
export const LONG_MAX_TEXT = '9223372036854775807';
export const INT_MAX = 2147483647;

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
const RANGES: Partial<Record<ConfigKind, [bigint, bigint]>> = {
  short: [-32768n, 32767n],
  int: [-2147483648n, 2147483647n],
  long: [LONG_MIN, LONG_MAX],
};

/**
 * Parses one value of the given kind. Integers outside JS's exact range
 * (e.g. Long.MAX_VALUE) are clamped to ±Number.MAX_SAFE_INTEGER.
 * Throws an Error whose message says what was expected.
 */
export function parseValue(kind: ConfigKind, text: string): ConfigValue {
  const t = text.trim();
  switch (kind) {
    case 'boolean': {
      const l = t.toLowerCase();
      if (l === 'true') return true;
      if (l === 'false') return false;
      throw new Error('expected true or false');
    }
    case 'short':
    case 'int':
    case 'long': {
      if (!/^[+-]?\d+$/.test(t))
        throw new Error(
          `expected ${kind === 'long' ? 'a long' : kind === 'int' ? 'an int' : 'a short'} (whole number)`,
        );
      const big = BigInt(t);
      const [lo, hi] = RANGES[kind]!;
      if (big < lo || big > hi) throw new Error(`out of range for type ${kind.toUpperCase()} (${lo}..${hi})`);
      const max = BigInt(Number.MAX_SAFE_INTEGER);
      return big > max ? Number.MAX_SAFE_INTEGER : big < -max ? -Number.MAX_SAFE_INTEGER : Number(big);
    }
    case 'double': {
      const n = t === '' ? NaN : Number(t);
      if (!Number.isFinite(n)) throw new Error('expected a number');
      return n;
    }
    case 'list':
      return t === '' ? [] : t.split(',').map((s) => s.trim());
    default:
      return t;
  }
}

/** A typed value back to the text form DescribeConfigs reports. */
export function formatValue(kind: ConfigKind, v: ConfigValue): string {
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'number' && kind === 'long' && v === Number.MAX_SAFE_INTEGER) return LONG_MAX_TEXT;
  return String(v);
}

export function atLeast(min: number): Validator {
  return (v) => (typeof v === 'number' && v < min ? `must be at least ${min}` : null);
}

export function between(min: number, max: number): Validator {
  return (v) => (typeof v === 'number' && (v < min || v > max) ? `must be between ${min} and ${max}` : null);
}

/** A string value that must be one of `allowed` (compared case-sensitively, as Kafka does for these). */
export function oneOf(...allowed: string[]): Validator {
  return (v) => (typeof v === 'string' && !allowed.includes(v) ? `must be one of ${allowed.join(', ')}` : null);
}

/** Every item of a list value must be one of `allowed`; `nonEmpty` forbids the empty list. */
export function listOf(allowed: string[], nonEmpty = false): Validator {
  return (v) => {
    if (!Array.isArray(v)) return null;
    if (nonEmpty && v.length === 0) return 'must not be empty';
    const bad = v.find((x) => !allowed.includes(x));
    return bad === undefined ? null : `'${bad}' is not one of ${allowed.join(', ')}`;
  };
}

/** Parses and validates; returns the value or the problem (without the property name). */
export function checkValue(def: PropertyDef, text: string): { value: ConfigValue } | { problem: string } {
  let value: ConfigValue;
  try {
    value = parseValue(def.kind, text);
  } catch (err) {
    return { problem: (err as Error).message };
  }
  const problem = def.validate?.(value) ?? null;
  return problem ? { problem } : { value };
}

/** Levenshtein distance, for "did you mean" hints on misspelled property names. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The closest known name within a small edit distance, or undefined. */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 5)) ? best : undefined;
}
