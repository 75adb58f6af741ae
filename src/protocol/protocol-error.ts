/**
 * The one error type a decoder throws on bad input: a frame that is truncated,
 * carries an impossible length, or a value outside its field's domain.
 * Anything else escaping a decoder is a bug.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(message: string) {
    super(message);
  }
}
