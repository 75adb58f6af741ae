/**
 * The client side of the SASL exchange, run by a Connection right after
 * ApiVersions when its security has `sasl`: SaslHandshake v1, then the
 * mechanism's tokens in SaslAuthenticate (PLAIN: one token; SCRAM-SHA-256/512:
 * client-first, client-final, and the server's signature is checked;
 * OAUTHBEARER: the token of `sasl.token`).
 * A refusal is a KafkaError with the broker's code and message.
 */
import { apiByName } from '../protocol/apis.ts';
import { ErrorCode, KafkaError } from '../protocol/error-codes.ts';
import { OAUTHBEARER, OAUTHBEARER_CLIENT_ABORT, oauthBearerClientMessage } from '../security/sasl/oauthbearer.ts';
import { scramByName, scramClient } from '../security/sasl/scram.ts';
import type { ClientSecurity, Connection } from './connection.ts';

export type ClientSasl = NonNullable<ClientSecurity['sasl']>;

/** Authenticates `conn` (connected, versions negotiated); resolves to the session lifetime the broker gave (0: none). */
export async function saslAuthenticate(conn: Connection, sasl: ClientSasl): Promise<number> {
  const hs = await conn.sendAt(apiByName('SaslHandshake'), 1, { mechanism: sasl.mechanism }, { sasl: true });
  if (hs.errorCode !== ErrorCode.NONE)
    throw new KafkaError(
      hs.errorCode,
      `SASL mechanism ${sasl.mechanism} refused by ${conn.address} (enabled: ${hs.mechanisms.join(', ') || 'none'})`,
    );
  const step = async (token: Buffer) => {
    const api = apiByName('SaslAuthenticate');
    const res = await conn.sendAt(api, conn.versionOf('SaslAuthenticate'), { authBytes: token }, { sasl: true });
    if (res.errorCode !== ErrorCode.NONE)
      throw new KafkaError(res.errorCode, res.errorMessage ?? `SASL authentication with ${conn.address} failed`);
    return { bytes: res.authBytes, lifetimeMs: Number(res.sessionLifetimeMs ?? 0) };
  };
  const username = sasl.username ?? '';
  const password = sasl.password ?? '';
  if (sasl.mechanism === 'PLAIN') {
    return (await step(Buffer.from(`\0${username}\0${password}`, 'utf8'))).lifetimeMs;
  }
  const m = scramByName(sasl.mechanism);
  if (m) {
    const c = scramClient(m, username, password);
    const first = await step(c.first());
    const last = await step(c.final(first.bytes));
    try {
      c.verify(last.bytes);
    } catch (err) {
      throw new KafkaError(ErrorCode.SASL_AUTHENTICATION_FAILED, (err as Error).message);
    }
    return last.lifetimeMs;
  }
  if (sasl.mechanism === OAUTHBEARER) {
    const first = await step(oauthBearerClientMessage(sasl.token ?? ''));
    // a challenge is the server's JSON error: the client aborts and the server answers with the failure
    if (first.bytes.length > 0) await step(OAUTHBEARER_CLIENT_ABORT);
    return first.lifetimeMs;
  }
  throw new KafkaError(
    ErrorCode.UNSUPPORTED_SASL_MECHANISM,
    `SASL mechanism ${sasl.mechanism} is not supported by this client (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)`,
  );
}
