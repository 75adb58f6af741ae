/**
 * SCRAM credentials: AlterUserScramCredentials (51), decided by the active
 * controller (a broker relays it there, as KRaft forwards it) and written as
 * UserScramCredential / RemoveUserScramCredential records, and
 * DescribeUserScramCredentials (50), answered by any broker from its image.
 * The per-user rules and errors are Kafka's: a user named twice for the same
 * mechanism in one request is DUPLICATE_RESOURCE, an empty name or
 * iterations outside 4096..16384 UNACCEPTABLE_CREDENTIAL, an unknown
 * mechanism UNSUPPORTED_SASL_MECHANISM, deleting or describing a credential
 * that does not exist RESOURCE_NOT_FOUND; a user with an error has none of
 * its alterations applied.
 */
import type { Controller } from '../../metadata/controller.ts';
import type { MetadataImage } from '../../metadata/image.ts';
import type { MetadataRecord } from '../../metadata/records.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type {
  AlterUserScramCredentialsRequest,
  AlterUserScramCredentialsResponse,
  AlterUserScramCredentialsResponseInput,
  DescribeUserScramCredentialsRequest,
  DescribeUserScramCredentialsResponseInput,
} from '../../protocol/generated/messages.ts';
import { credentialFromSaltedPassword, type ScramCredential, scramByType } from '../../security/sasl/scram.ts';
import type { Dispatcher, Handler } from '../dispatcher.ts';
import { clusterAllowed, Op } from '../../security/acl-check.ts';
import { type ControllerRouter, relayHandler } from '../forwarding.ts';

type UserResult = { user: string; errorCode: number; errorMessage: string | null };

/** The users of a request in the order they first appear. */
function usersOf(req: AlterUserScramCredentialsRequest): string[] {
  const seen = new Set<string>();
  for (const x of [...req.deletions, ...req.upsertions]) seen.add(x.name);
  return [...seen];
}

/** The decision of AlterUserScramCredentials against `image`: per-user results and the records to write. */
export function decideScramAlterations(
  req: AlterUserScramCredentialsRequest,
  image: MetadataImage,
): { records: MetadataRecord[]; results: UserResult[] } {
  const errors = new Map<string, [number, string]>();
  const fail = (user: string, code: number, msg: string) => {
    if (!errors.has(user)) errors.set(user, [code, msg]);
  };
  const pairs = new Set<string>();
  for (const x of [...req.deletions, ...req.upsertions]) {
    const key = `${x.mechanism}\u0000${x.name}`;
    if (pairs.has(key))
      fail(x.name, ErrorCode.DUPLICATE_RESOURCE, 'A user credential cannot be altered twice in the same request');
    pairs.add(key);
  }
  for (const d of req.deletions) {
    if (d.name === '') fail(d.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty');
    else if (!scramByType(d.mechanism)) fail(d.name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism');
    else if (!image.scramCredentials.get(d.name)?.has(d.mechanism))
      fail(d.name, ErrorCode.RESOURCE_NOT_FOUND, 'Attempt to delete a user credential that does not exist');
  }
  for (const u of req.upsertions) {
    const m = scramByType(u.mechanism);
    if (u.name === '') fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty');
    else if (!m) fail(u.name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism');
    else if (u.iterations < m.minIterations)
      fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, `Too few iterations (at least ${m.minIterations})`);
    else if (u.iterations > m.maxIterations)
      fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, `Too many iterations (at most ${m.maxIterations})`);
    else if (u.salt.length === 0 || u.saltedPassword.length === 0)
      fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Salt and salted password must not be empty');
  }
  const records: MetadataRecord[] = [];
  for (const d of req.deletions)
    if (!errors.has(d.name)) records.push({ type: 'RemoveUserScramCredential', name: d.name, mechanism: d.mechanism });
  for (const u of req.upsertions) {
    if (errors.has(u.name)) continue;
    const m = scramByType(u.mechanism)!;
    const c: ScramCredential = credentialFromSaltedPassword(
      m,
      Buffer.from(u.saltedPassword),
      Buffer.from(u.salt),
      u.iterations,
    );
    records.push({
      type: 'UserScramCredential',
      name: u.name,
      mechanism: u.mechanism,
      salt: c.salt.toString('base64'),
      storedKey: c.storedKey.toString('base64'),
      serverKey: c.serverKey.toString('base64'),
      iterations: c.iterations,
    });
  }
  const results = usersOf(req).map((user) => {
    const e = errors.get(user);
    return { user, errorCode: e ? e[0] : ErrorCode.NONE, errorMessage: e ? e[1] : null };
  });
  return { records, results };
}

/** AlterUserScramCredentials on the active controller (elsewhere: NOT_CONTROLLER for each user). */
export function alterUserScramCredentialsHandler(
  controller: Pick<Controller, 'alterUserScramCredentials'>,
): Handler<AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponseInput> {
  return async (req) => {
    const each = (errorCode: number, errorMessage: string | null): AlterUserScramCredentialsResponseInput => ({
      throttleTimeMs: 0,
      results: usersOf(req).map((user) => ({ user, errorCode, errorMessage })),
    });
    return controller.alterUserScramCredentials(
      (image) => {
        const { records, results } = decideScramAlterations(req, image);
        const result: AlterUserScramCredentialsResponseInput = { throttleTimeMs: 0, results };
        return {
          records,
          result,
          onStorageError: (err) => ({
            throttleTimeMs: 0,
            results: results.map((r) =>
              r.errorCode === ErrorCode.NONE
                ? { ...r, errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: err.message }
                : r,
            ),
          }),
        };
      },
      (code, msg) => each(code, msg),
    );
  };
}

function notController(r: AlterUserScramCredentialsResponse | AlterUserScramCredentialsResponseInput): boolean {
  return r.results.some((x) => x.errorCode === ErrorCode.NOT_CONTROLLER);
}

/** DescribeUserScramCredentials from this node's image. */
export function describeUserScramCredentialsHandler(
  image: MetadataImage,
): Handler<DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponseInput> {
  return (req) => {
    const info = (user: string) =>
      [...(image.scramCredentials.get(user) ?? new Map())]
        .sort((a, b) => a[0] - b[0])
        .map(([mechanism, c]) => ({ mechanism, iterations: c.iterations }));
    const names = req.users?.map((u) => u.name) ?? [];
    let results: DescribeUserScramCredentialsResponseInput['results'];
    if (names.length === 0) {
      results = [...image.scramCredentials.keys()]
        .sort()
        .map((user) => ({ user, errorCode: ErrorCode.NONE, errorMessage: null, credentialInfos: info(user) }));
    } else {
      const counts = new Map<string, number>();
      for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
      results = [...counts].map(([user, n]) => {
        if (n > 1)
          return {
            user,
            errorCode: ErrorCode.DUPLICATE_RESOURCE,
            errorMessage: 'Cannot describe SCRAM credentials for the same user twice in a single request',
            credentialInfos: [],
          };
        if (!image.scramCredentials.has(user))
          return {
            user,
            errorCode: ErrorCode.RESOURCE_NOT_FOUND,
            errorMessage: 'Attempt to describe a user credential that does not exist',
            credentialInfos: [],
          };
        return { user, errorCode: ErrorCode.NONE, errorMessage: null, credentialInfos: info(user) };
      });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results };
  };
}

/** Registers 50 and 51 on a broker's client listener: 51 runs here when this node is the active controller, else is relayed to it. */
export function registerScramHandlers(
  d: Dispatcher,
  image: MetadataImage,
  router: ControllerRouter,
  controller: Pick<Controller, 'alterUserScramCredentials'>,
): void {
  const describe = describeUserScramCredentialsHandler(image);
  // ACLs: Describe on the cluster
  d.register('DescribeUserScramCredentials', {
    handler: (req, ctx) =>
      clusterAllowed(ctx, Op.DESCRIBE)
        ? describe(req, ctx)
        : {
            throttleTimeMs: 0,
            errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
            errorMessage: 'Cluster authorization failed.',
            results: [],
          },
  });
  const alter = relayHandler(
    router,
    'AlterUserScramCredentials',
    alterUserScramCredentialsHandler(controller),
    notController,
    (reason, req) => ({
      throttleTimeMs: 0,
      results: usersOf(req).map((user) => ({ user, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: reason })),
    }),
  );
  // ACLs: Alter on the cluster
  d.register('AlterUserScramCredentials', {
    handler: (req, ctx) =>
      clusterAllowed(ctx, Op.ALTER)
        ? alter(req, ctx)
        : {
            throttleTimeMs: 0,
            results: usersOf(req).map((user) => ({
              user,
              errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
              errorMessage: 'Cluster authorization failed.',
            })),
          },
  });
}

/** Registers 51 on a voter's CONTROLLER listener (where brokers relay it). */
export function registerScramControllerHandler(
  d: Dispatcher,
  controller: Pick<Controller, 'alterUserScramCredentials'>,
): void {
  d.register('AlterUserScramCredentials', { handler: alterUserScramCredentialsHandler(controller) });
}

/** The SCRAM credential store of the SASL mechanisms, over a metadata image. */
export function imageScramStore(image: () => MetadataImage | undefined) {
  return {
    credential: (user: string, m: { type: number }) => image()?.scramCredentials.get(user)?.get(m.type),
  };
}
