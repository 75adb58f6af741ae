/**
 * Client quotas in a three-node cluster (in-process, combined roles):
 * AlterClientQuotas sent to each broker is decided by the active controller
 * (forwarded by the others) and answered once that broker's own metadata has
 * it; every broker then describes every quota; a controller's failover keeps
 * them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../helpers/broker.ts';
import { type InProcessCluster, startInProcessCluster, withConnection } from '../helpers/inprocess-cluster.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import type { Connection } from '../../src/client/connection.ts';

async function describeAll(c: Connection): Promise<Map<string, number>> {
  const r = await c.send('DescribeClientQuotas', { components: [], strict: false });
  assert.equal(r.errorCode, ErrorCode.NONE);
  const out = new Map<string, number>();
  for (const e of r.entries ?? [])
    for (const v of e.values)
      out.set(`${e.entity.map((x) => `${x.entityType}=${x.entityName}`).join(',')}/${v.key}`, v.value);
  return out;
}

describe('client quotas in a cluster', () => {
  let cluster: InProcessCluster;
  before(async () => {
    cluster = await startInProcessCluster({ nodes: 3 });
  });
  after(async () => {
    await cluster?.close();
  });

  test('AlterClientQuotas on any broker: forwarded, answered once that broker has it, described by all', async () => {
    for (const n of cluster.nodes) {
      await withConnection(n.clientPort, async (c) => {
        const r = await c.send('AlterClientQuotas', {
          entries: [
            {
              entity: [{ entityType: 'client-id', entityName: `app-${n.id}` }],
              ops: [{ key: 'producer_byte_rate', value: 1000 * n.id, remove: false }],
            },
          ],
          validateOnly: false,
        });
        assert.equal(r.entries[0].errorCode, ErrorCode.NONE, r.entries[0].errorMessage ?? '');
        // the broker that answered already has it
        assert.equal((await describeAll(c)).get(`client-id=app-${n.id}/producer_byte_rate`), 1000 * n.id);
      });
    }
    for (const n of cluster.nodes) {
      await eventually(() =>
        withConnection(n.clientPort, async (c) => {
          const all = await describeAll(c);
          return [1, 2, 3].every((i) => all.get(`client-id=app-${i}/producer_byte_rate`) === 1000 * i);
        }),
      );
    }
  });

  test('the active controller stopped: the quotas stay, and new ones are decided by the next one', async () => {
    const active = await eventually(() => cluster.live().find((n) => n.running?.controller.isActive));
    await cluster.stop(active.id);
    const rest = cluster.live();
    await withConnection(rest[0].clientPort, async (c) => {
      const r = await c.send('AlterClientQuotas', {
        entries: [
          {
            entity: [{ entityType: 'user', entityName: null }],
            ops: [{ key: 'request_percentage', value: 40, remove: false }],
          },
        ],
        validateOnly: false,
      });
      assert.equal(r.entries[0].errorCode, ErrorCode.NONE, r.entries[0].errorMessage ?? '');
    });
    for (const n of rest) {
      await eventually(() =>
        withConnection(n.clientPort, async (c) => {
          const all = await describeAll(c);
          return (
            all.get('user=null/request_percentage') === 40 && all.get('client-id=app-3/producer_byte_rate') === 3000
          );
        }),
      );
    }
    await cluster.start(active.id);
  });

  test('validateOnly changes nothing; an invalid entry is refused alone', async () => {
    const n = cluster.nodes[1];
    await withConnection(n.clientPort, async (c) => {
      const r = await c.send('AlterClientQuotas', {
        entries: [
          {
            entity: [{ entityType: 'user', entityName: 'v' }],
            ops: [{ key: 'producer_byte_rate', value: 5, remove: false }],
          },
          { entity: [{ entityType: 'user', entityName: 'w' }], ops: [{ key: 'nope', value: 5, remove: false }] },
        ],
        validateOnly: true,
      });
      assert.deepEqual(
        r.entries.map((e) => e.errorCode),
        [ErrorCode.NONE, ErrorCode.INVALID_REQUEST],
      );
      assert.equal((await describeAll(c)).has('user=v/producer_byte_rate'), false);
    });
  });
});
