/**
 * Errors the storage engine raises: the typed ones a caller maps to a Kafka
 * error code, and InvariantViolation, which means a bug in the log code (or a
 * caller breaking a documented precondition) and is never caught to carry on.
 */

/** A fetch or truncation offset outside [log start offset, log end offset]. */
export class OffsetOutOfRangeError extends Error {
  readonly errorCode = 'OFFSET_OUT_OF_RANGE' as const;
  constructor(
    readonly offset: number,
    readonly logStartOffset: number,
    readonly logEndOffset: number,
  ) {
    super(`Offset ${offset} is out of range [${logStartOffset}, ${logEndOffset}]`);
    this.name = 'OffsetOutOfRangeError';
  }
}

/** Bytes handed to append are not a whole number of v2 batches. */
export class CorruptRecordError extends Error {
  readonly errorCode = 'CORRUPT_MESSAGE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'CorruptRecordError';
  }
}

/** A broken log invariant (offsets, watermarks): a bug surfaced, not papered over. */
export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolation';
  }
}

/** Throw InvariantViolation when `cond` is false. */
export function invariant(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new InvariantViolation(typeof message === 'string' ? message : message());
}

/**
 * A write or fsync under a log dir failed, or the dir is full or failed and
 * refuses writes (Kafka's KafkaStorageException): the operation did not
 * happen and must not be acknowledged.
 */
export class KafkaStorageError extends Error {
  readonly errorCode = 'KAFKA_STORAGE_ERROR' as const;
  constructor(
    message: string,
    readonly dir: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'KafkaStorageError';
  }
}
