/**
 * Request header v1/v2 and response header v0/v1.
 *
 * Request header: api_key int16, api_version int16, correlation_id int32,
 * client_id nullable string (always the classic int16-length form), then a
 * tag section in v2 (flexible request versions). Response header:
 * correlation_id int32, then a tag section in v1.
 */
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';
import { ProtocolError } from './protocol-error.ts';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** Reads api key, version and correlation id only (enough to answer an error). */
export function peekRequestHeader(buf: Buffer): { apiKey: number; apiVersion: number; correlationId: number } {
  if (buf.length < 8) throw new ProtocolError(`request frame of ${buf.length} bytes is shorter than a header`);
  return { apiKey: buf.readInt16BE(0), apiVersion: buf.readInt16BE(2), correlationId: buf.readInt32BE(4) };
}

/** Reads the whole request header; leaves `r` at the start of the body. */
export function readRequestHeader(r: Reader, flexible: boolean): RequestHeader {
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const clientId = r.nullableString();
  if (flexible) skipTags(r);
  return { apiKey, apiVersion, correlationId, clientId };
}

export function writeRequestHeader(w: Writer, h: RequestHeader, flexible: boolean): void {
  w.int16(h.apiKey);
  w.int16(h.apiVersion);
  w.int32(h.correlationId);
  w.nullableString(h.clientId);
  if (flexible) w.uvarint(0);
}

export function writeResponseHeader(w: Writer, correlationId: number, headerVersion: 0 | 1): void {
  w.int32(correlationId);
  if (headerVersion === 1) w.uvarint(0);
}

export function readResponseHeader(r: Reader, headerVersion: 0 | 1): number {
  const correlationId = r.int32();
  if (headerVersion === 1) skipTags(r);
  return correlationId;
}

function skipTags(r: Reader): void {
  const n = r.uvarint();
  for (let i = 0; i < n; i++) {
    r.uvarint();
    r.skip(r.uvarint());
  }
}
