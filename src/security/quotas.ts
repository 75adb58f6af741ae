/**
 * Client quotas (KIP-13, KIP-55, KIP-124, KIP-219, KIP-599), as Kafka's
 * quota managers apply them:
 *
 * - Quotas are stored in the metadata log (ClientQuotaRecord) per entity:
 *   a user, a client id, or both, each possibly the default entity of its
 *   type. Which one applies to a request of user U and client id C is the
 *   first of these eight that has a value for the quota, as in Kafka:
 *   /users/U/clients/C, /users/U/clients/<default>, /users/U,
 *   /users/<default>/clients/C, /users/<default>/clients/<default>,
 *   /users/<default>, /clients/C, /clients/<default>.
 * - Each quota is measured by a rate sensor per quota entity, as Kafka tags
 *   its sensors: a default entity stands for each name on its own (two users
 *   under /users/<default> have a quota each, not one shared).
 * - The sensor is a windowed rate (Kafka's SampledStat + Rate):
 *   `quota.window.num` samples of `quota.window.size.seconds` each
 *   (`controller.quota.window.*` for controller_mutation_rate). When a
 *   recorded value takes the rate over the quota, the throttle time is
 *   (rate - quota) / quota × the window the rate was measured over, at most
 *   the whole window (KIP-219): the time after which the rate would be back
 *   at the quota if nothing more came.
 */
import net from 'node:net';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ClientQuotaRecord } from '../metadata/records.ts';
import { type ClientQuotaEntry, clientQuotaEntityKey, type MetadataImage } from '../metadata/image.ts';

export const PRODUCER_BYTE_RATE = 'producer_byte_rate';
export const CONSUMER_BYTE_RATE = 'consumer_byte_rate';
export const REQUEST_PERCENTAGE = 'request_percentage';
export const CONTROLLER_MUTATION_RATE = 'controller_mutation_rate';
/** Connections accepted per second from one address (KIP-612), the one quota of `ip` entities. */
export const CONNECTION_CREATION_RATE = 'connection_creation_rate';

/** The quota keys of user and client-id entities, and whether their values are whole numbers (Kafka's LONG). */
export const QUOTA_KEYS: ReadonlyMap<string, 'long' | 'double'> = new Map([
  [PRODUCER_BYTE_RATE, 'long'],
  [CONSUMER_BYTE_RATE, 'long'],
  [REQUEST_PERCENTAGE, 'double'],
  [CONTROLLER_MUTATION_RATE, 'double'],
]);

export const USER = 'user';
export const CLIENT_ID = 'client-id';
export const IP = 'ip';

export type QuotaEntity = { entityType: string; entityName: string | null }[];

/** One entry of an AlterClientQuotas request: the records it makes, or why it is refused. */
export function quotaAlterationRecords(
  entity: QuotaEntity,
  ops: readonly { key: string; value: number; remove: boolean }[],
): { records: ClientQuotaRecord[] } | { errorCode: number; errorMessage: string } {
  const invalid = (errorMessage: string) => ({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage });
  const err = entityError(entity);
  if (err) return invalid(err);
  const seen = new Set<string>();
  const records: ClientQuotaRecord[] = [];
  const canonical = [...entity].sort((a, b) => (a.entityType < b.entityType ? -1 : 1));
  const ipEntity = entity[0].entityType === IP;
  for (const op of ops) {
    const kind = ipEntity
      ? op.key === CONNECTION_CREATION_RATE
        ? 'long'
        : undefined
      : op.key === CONNECTION_CREATION_RATE
        ? undefined
        : QUOTA_KEYS.get(op.key);
    if (!kind)
      return invalid(`Unrecognized quota key for ${ipEntity ? 'an ip' : 'a user or client-id'} entity: ${op.key}`);
    if (seen.has(op.key)) return invalid(`Duplicate quota key: ${op.key}`);
    seen.add(op.key);
    if (!op.remove) {
      if (!Number.isFinite(op.value)) return invalid(`Quota ${op.key} must be a finite number`);
      if (kind === 'long' && Math.abs(Math.round(op.value) - op.value) > 1e-6)
        return invalid(`Quota ${op.key} must be a whole number`);
    }
    records.push({
      type: 'ClientQuota',
      entity: canonical.map((e) => ({ entityType: e.entityType, entityName: e.entityName })),
      key: op.key,
      value: op.remove ? 0 : kind === 'long' ? Math.round(op.value) : op.value,
      remove: op.remove,
    });
  }
  return { records };
}

/** Why an entity is not one quotas can be set for, or null. */
export function entityError(entity: QuotaEntity): string | null {
  if (entity.length === 0) return 'Invalid empty client quota entity';
  const types = new Set<string>();
  for (const e of entity) {
    if (e.entityType === IP) {
      if (entity.length > 1) return 'An ip entity cannot be combined with a user or client-id';
      if (e.entityName !== null && net.isIP(e.entityName) === 0) return `${e.entityName} is not a valid IP address`;
      return null;
    }
    if (e.entityType !== USER && e.entityType !== CLIENT_ID)
      return `Unhandled client quota entity type: ${e.entityType}`;
    if (types.has(e.entityType)) return `Duplicate ${e.entityType} in client quota entity`;
    if (e.entityName === '') return `Empty ${e.entityType} name in client quota entity (null is the default entity)`;
    types.add(e.entityType);
  }
  return null;
}

/** DescribeClientQuotas' filter component: match type 0 exact name, 1 the default entity, 2 any. */
export interface QuotaFilterComponent {
  entityType: string;
  matchType: number;
  match: string | null;
}

/** The entries of the image that a DescribeClientQuotas filter selects (`strict`: no other entity types), or why the filter is invalid. */
export function describeQuotas(
  image: MetadataImage,
  components: readonly QuotaFilterComponent[],
  strict: boolean,
): { entries: ClientQuotaEntry[] } | { errorMessage: string } {
  const types = new Set<string>();
  for (const c of components) {
    if (c.entityType !== USER && c.entityType !== CLIENT_ID && c.entityType !== 'ip')
      return { errorMessage: `Unknown entity type: ${c.entityType}` };
    if (types.has(c.entityType)) return { errorMessage: `Duplicate filter on entity type ${c.entityType}` };
    if (c.matchType < 0 || c.matchType > 2) return { errorMessage: `Unknown match type: ${c.matchType}` };
    if (c.matchType === 0 && c.match === null) return { errorMessage: 'An exact match needs a name' };
    types.add(c.entityType);
  }
  const entries: ClientQuotaEntry[] = [];
  for (const e of image.clientQuotas.values()) {
    if (strict && e.entity.length !== components.length) continue;
    const ok = components.every((c) => {
      const part = e.entity.find((x) => x.entityType === c.entityType);
      if (!part) return false;
      if (c.matchType === 0) return part.entityName === c.match;
      if (c.matchType === 1) return part.entityName === null;
      return true;
    });
    if (ok) entries.push(e);
  }
  return { entries };
}

// ---- the rate sensor ------------------------------------------------------

/**
 * A rate over `samples` windows of `windowMs`, as Kafka's Rate over a
 * SampledStat: the sum of the samples still in the window set, divided by
 * the time they cover, counted as at least `samples - 1` full windows (so
 * that a first burst is not measured over a few milliseconds).
 */
export class RateSensor {
  private readonly starts: number[];
  private readonly values: number[];
  private current = 0;
  /** Last time a value was recorded (sensors unused for long are dropped). */
  lastRecordMs: number;
  /** When the sensor was made: its history is no longer than that. */
  private readonly createdMs: number;

  constructor(
    private readonly samples: number,
    private readonly windowMs: number,
    now: number,
  ) {
    this.starts = new Array(samples).fill(now);
    this.values = new Array(samples).fill(0);
    this.lastRecordMs = now;
    this.createdMs = now;
  }

  record(value: number, now: number): void {
    this.lastRecordMs = now;
    if (now >= this.starts[this.current] + this.windowMs) {
      this.current = (this.current + 1) % this.samples;
      this.starts[this.current] = now;
      this.values[this.current] = 0;
    }
    this.purge(now);
    this.values[this.current] += value;
  }

  /** Samples that ended a whole window set ago count nothing. */
  private purge(now: number): void {
    const expireAge = this.samples * this.windowMs;
    for (let i = 0; i < this.samples; i++) {
      if (now - this.starts[i] >= expireAge) {
        this.starts[i] = now;
        this.values[i] = 0;
      }
    }
  }

  /** The time in ms the rate is measured over (Kafka's Rate.windowSize). */
  windowSizeMs(now: number): number {
    this.purge(now);
    let oldest = this.starts[this.current];
    for (let i = 0; i < this.samples; i++) if (this.starts[i] < oldest) oldest = this.starts[i];
    let elapsed = now - oldest;
    const full = Math.floor(elapsed / this.windowMs);
    // Kafka counts at least samples - 1 whole windows besides the current one; a sensor younger than that
    // counts only the time it has had, so a new client gets no burst: its first bytes are paid for at the rate
    const minFull = Math.min(this.samples - 1, Math.floor((now - this.createdMs) / this.windowMs));
    if (full < minFull) elapsed += (minFull - full) * this.windowMs;
    return Math.max(1, elapsed);
  }

  /** Units per second. */
  rate(now: number): number {
    const size = this.windowSizeMs(now);
    let total = 0;
    for (let i = 0; i < this.samples; i++) total += this.values[i];
    return size > 0 ? (total * 1000) / size : 0;
  }

  /** Ms to hold a client back for the rate to come down to `bound` (0: within it), at most the whole window set (KIP-219). */
  throttleMs(bound: number, now: number): number {
    const rate = this.rate(now);
    if (rate <= bound) return 0;
    const max = this.samples * this.windowMs;
    if (bound <= 0) return max;
    const ms = ((rate - bound) / bound) * this.windowSizeMs(now);
    return Math.min(max, Math.max(1, Math.round(ms)));
  }
}

// ---- resolution and recording ---------------------------------------------

interface Resolved {
  /** The sensor's key: the quota and the entity it is measured for. */
  sensorKey: string;
  bound: number;
}

const NONE: unique symbol = Symbol('no-quota');

/** Sensors not recorded into for this long are dropped (Kafka: one hour). */
const SENSOR_EXPIRY_MS = 60 * 60 * 1000;

export interface QuotaWindows {
  /** quota.window.num / quota.window.size.seconds (in ms) */
  samples: number;
  windowMs: number;
  /** controller.quota.window.num / controller.quota.window.size.seconds (in ms) */
  controllerSamples: number;
  controllerWindowMs: number;
}

export const DEFAULT_QUOTA_WINDOWS: QuotaWindows = {
  samples: 11,
  windowMs: 1000,
  controllerSamples: 11,
  controllerWindowMs: 1000,
};

/**
 * The quotas that apply to a request, and its rate sensors. `active` is the
 * cheap test the hot path makes: no quota in the image, nothing to do.
 */
export class ClientQuotaManager {
  private readonly sensors = new Map<string, RateSensor>();
  private readonly resolved = new Map<string, Resolved | typeof NONE>();
  private resolvedAt = -2;
  private lastSweep = 0;

  constructor(
    private readonly image: MetadataImage,
    private readonly windows: QuotaWindows = DEFAULT_QUOTA_WINDOWS,
    private readonly now: () => number = Date.now,
  ) {}

  get active(): boolean {
    return this.image.clientQuotas.size > 0;
  }

  /** The quota `key` for user `user` and client id `clientId` (Kafka's precedence), or null. */
  quotaFor(key: string, user: string, clientId: string): Resolved | null {
    if (this.resolvedAt !== this.image.epoch) {
      this.resolved.clear();
      this.resolvedAt = this.image.epoch;
    }
    const cacheKey = `${key}\u0000${user}\u0000${clientId}`;
    let r = this.resolved.get(cacheKey);
    if (r === undefined) {
      r = resolveQuota(this.image, key, user, clientId) ?? NONE;
      if (this.resolved.size > 100_000) this.resolved.clear();
      this.resolved.set(cacheKey, r);
    }
    return r === NONE ? null : r;
  }

  /**
   * Records `value` against quota `key` of (user, clientId) when one applies;
   * returns the ms to throttle the client for (0: within its quota).
   */
  record(key: string, user: string, clientId: string, value: number): number {
    const q = this.quotaFor(key, user, clientId);
    if (!q) return 0;
    const now = this.now();
    const controller = key === CONTROLLER_MUTATION_RATE;
    let s = this.sensors.get(q.sensorKey);
    if (!s) {
      s = controller
        ? new RateSensor(this.windows.controllerSamples, this.windows.controllerWindowMs, now)
        : new RateSensor(this.windows.samples, this.windows.windowMs, now);
      this.sensors.set(q.sensorKey, s);
    }
    s.record(value, now);
    this.sweep(now);
    return s.throttleMs(q.bound, now);
  }

  /**
   * Whether a connection from `ip` may be accepted under its
   * connection_creation_rate (/ips/<ip>, else /ips/<default>; KIP-612): not
   * while the address's rate of accepted connections is over it, and then
   * the refused connection is not counted, so a flooding address gets its
   * quota's worth of connections and no more.
   */
  admitConnection(ip: string): boolean {
    if (!this.active) return true;
    const own = this.image.clientQuotas.get(clientQuotaEntityKey([{ entityType: IP, entityName: ip }]));
    const bound =
      own?.values.get(CONNECTION_CREATION_RATE) ??
      this.image.clientQuotas
        .get(clientQuotaEntityKey([{ entityType: IP, entityName: null }]))
        ?.values.get(CONNECTION_CREATION_RATE);
    if (bound === undefined) return true;
    const now = this.now();
    const key = `${CONNECTION_CREATION_RATE}\u0000${ip}`;
    let s = this.sensors.get(key);
    if (!s) this.sensors.set(key, (s = new RateSensor(this.windows.samples, this.windows.windowMs, now)));
    if (s.rate(now) >= bound) return false;
    s.record(1, now);
    this.sweep(now);
    return true;
  }

  /** The ms a client is held back for quota `key` without recording anything (0: within it, or no quota). */
  throttleMs(key: string, user: string, clientId: string): number {
    const q = this.quotaFor(key, user, clientId);
    if (!q) return 0;
    return this.sensors.get(q.sensorKey)?.throttleMs(q.bound, this.now()) ?? 0;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [k, s] of this.sensors) if (now - s.lastRecordMs > SENSOR_EXPIRY_MS) this.sensors.delete(k);
  }
}

/**
 * Kafka's precedence (DefaultQuotaCallback): the first of the eight levels
 * with a value for `key`, and the entity its sensor is measured for.
 */
export function resolveQuota(image: MetadataImage, key: string, user: string, clientId: string): Resolved | null {
  const U = (name: string | null) => ({ entityType: USER, entityName: name });
  const C = (name: string | null) => ({ entityType: CLIENT_ID, entityName: name });
  const levels: [QuotaEntity, 'both' | 'user' | 'client'][] = [
    [[U(user), C(clientId)], 'both'],
    [[U(user), C(null)], 'both'],
    [[U(user)], 'user'],
    [[U(null), C(clientId)], 'both'],
    [[U(null), C(null)], 'both'],
    [[U(null)], 'user'],
    [[C(clientId)], 'client'],
    [[C(null)], 'client'],
  ];
  for (const [entity, tags] of levels) {
    const v = image.clientQuotas.get(clientQuotaEntityKey(entity))?.values.get(key);
    if (v === undefined) continue;
    const u = tags === 'client' ? '' : user;
    const c = tags === 'user' ? '' : clientId;
    return { sensorKey: `${key}\u0000${u}\u0000${c}`, bound: v };
  }
  return null;
}

/** The sensors' windows from the broker's properties (Kafka's names and defaults). */
export function quotaWindows(config: { raw: Map<string, string> }): QuotaWindows {
  const num = (k: string, d: number) => {
    const v = Number(config.raw.get(k));
    return config.raw.has(k) && Number.isInteger(v) && v >= 1 ? v : d;
  };
  return {
    samples: num('quota.window.num', 11),
    windowMs: num('quota.window.size.seconds', 1) * 1000,
    controllerSamples: num('controller.quota.window.num', 11),
    controllerWindowMs: num('controller.quota.window.size.seconds', 1) * 1000,
  };
}
