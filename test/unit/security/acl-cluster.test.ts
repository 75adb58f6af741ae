/**
 * ACLs in a three-node in-process cluster (PLAINTEXT inter-broker, so
 * `User:ANONYMOUS` is a super user, as docs/security.md says it must be):
 * CreateAcls and DeleteAcls sent to a node that is not the active controller
 * are relayed to it, every node's image gets the change from the metadata
 * log, and the ACLs are still there after a node restarts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { eventually } from '../../helpers/broker.ts';
import { type InProcessCluster, startInProcessCluster, withConnection } from '../../helpers/inprocess-cluster.ts';

let cluster: InProcessCluster;

before(async () => {
  cluster = await startInProcessCluster({
    logLevel: 'error',
    overrides: {
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:ANONYMOUS',
    },
  });
});

after(async () => {
  await cluster?.close();
});

const binding = {
  resourceType: 2,
  resourceName: 'cl-orders',
  resourcePatternType: 3,
  principal: 'User:alice',
  host: '*',
  operation: 3,
  permissionType: 3,
};

/** A node that is not the active controller. */
function follower() {
  return cluster.live().find((n) => n.running!.controller.leaderId !== n.id)!;
}

test('CreateAcls and DeleteAcls on a node that is not the active controller reach every node', async () => {
  const n = await eventually(() => {
    const leader = cluster.nodes[0].running!.controller.leaderId;
    return leader >= 0 && follower();
  });
  const created = await withConnection(n.clientPort, (c) => c.send('CreateAcls', { creations: [binding] }));
  assert.deepEqual(
    created.results.map((r) => r.errorCode),
    [ErrorCode.NONE],
  );
  await eventually(() => cluster.live().every((x) => x.running!.broker.image.acls.size === 1));
  const described = await eventually(async () => {
    const other = cluster.live().find((x) => x.id !== n.id)!;
    const r = await withConnection(other.clientPort, (c) =>
      c.send('DescribeAcls', {
        resourceTypeFilter: 2,
        resourceNameFilter: 'cl-orders',
        patternTypeFilter: 2,
        principalFilter: null,
        hostFilter: null,
        operation: 1,
        permissionType: 1,
      }),
    );
    return r.resources.length === 1 && r;
  });
  assert.equal(described.resources[0].acls[0].principal, 'User:alice');

  // a restarted node reads them back from its metadata log
  await cluster.stop(n.id);
  await cluster.start(n.id);
  await eventually(() => cluster.node(n.id).running!.broker.image.acls.size === 1);

  const m = await eventually(() => follower());
  const deleted = await withConnection(m.clientPort, (c) =>
    c.send('DeleteAcls', {
      filters: [
        {
          resourceTypeFilter: 1,
          resourceNameFilter: null,
          patternTypeFilter: 1,
          principalFilter: 'User:alice',
          hostFilter: null,
          operation: 1,
          permissionType: 1,
        },
      ],
    }),
  );
  assert.equal(deleted.filterResults[0].errorCode, ErrorCode.NONE);
  assert.deepEqual(
    deleted.filterResults[0].matchingAcls.map((a) => a.resourceName),
    ['cl-orders'],
  );
  await eventually(() => cluster.live().every((x) => x.running!.broker.image.acls.size === 0));
});
