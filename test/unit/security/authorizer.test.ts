import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AclBinding,
  type AclFilter,
  AclOperation as Op,
  AclPermission as Perm,
  filterMatches,
  PatternType,
  ResourceType as RT,
  validateBinding,
} from '../../../src/security/acl-types.ts';
import { Authorizer, staticAcls } from '../../../src/security/authorizer.ts';
import { controllerListenerGate } from '../../../src/security/acl-check.ts';
import { userPrincipal } from '../../../src/security/principal.ts';

const alice = userPrincipal('alice');
const bob = userPrincipal('bob');

function acl(partial: Partial<AclBinding>): AclBinding {
  return {
    resourceType: RT.TOPIC,
    resourceName: 'orders',
    patternType: PatternType.LITERAL,
    principal: 'User:alice',
    host: '*',
    operation: Op.READ,
    permission: Perm.ALLOW,
    ...partial,
  };
}

function authz(bindings: AclBinding[], opts: { superUsers?: string[]; allowEveryone?: boolean } = {}): Authorizer {
  return new Authorizer(
    { superUsers: opts.superUsers ?? [], allowEveryoneIfNoAclFound: opts.allowEveryone ?? false },
    staticAcls(bindings),
  );
}

describe('authorizer', () => {
  it('allows the literal resource to its principal only', () => {
    const a = authz([acl({})]);
    assert.equal(a.authorize(alice, '10.0.0.1', Op.READ, RT.TOPIC, 'orders'), true);
    assert.equal(a.authorize(bob, '10.0.0.1', Op.READ, RT.TOPIC, 'orders'), false);
    assert.equal(a.authorize(alice, '10.0.0.1', Op.WRITE, RT.TOPIC, 'orders'), false);
    assert.equal(a.authorize(alice, '10.0.0.1', Op.READ, RT.TOPIC, 'orders2'), false);
    assert.equal(a.authorize(alice, '10.0.0.1', Op.READ, RT.GROUP, 'orders'), false);
  });

  it('matches the literal wildcard name, User:* and host *', () => {
    const a = authz([acl({ resourceName: '*', principal: 'User:*' })]);
    assert.equal(a.authorize(bob, '1.2.3.4', Op.READ, RT.TOPIC, 'anything'), true);
    assert.equal(a.authorize(userPrincipal('x'), '1.2.3.4', Op.READ, RT.TOPIC, 'orders'), true);
    assert.equal(a.authorize(bob, '1.2.3.4', Op.READ, RT.GROUP, 'anything'), false);
  });

  it('matches a host exactly', () => {
    const a = authz([acl({ host: '10.0.0.1' })]);
    assert.equal(a.authorize(alice, '10.0.0.1', Op.READ, RT.TOPIC, 'orders'), true);
    assert.equal(a.authorize(alice, '10.0.0.2', Op.READ, RT.TOPIC, 'orders'), false);
  });

  it('matches PREFIXED patterns by prefix', () => {
    const a = authz([acl({ resourceName: 'sales-', patternType: PatternType.PREFIXED })]);
    assert.equal(a.authorize(alice, 'h', Op.READ, RT.TOPIC, 'sales-eu'), true);
    assert.equal(a.authorize(alice, 'h', Op.READ, RT.TOPIC, 'sales-'), true);
    assert.equal(a.authorize(alice, 'h', Op.READ, RT.TOPIC, 'sales'), false);
    assert.equal(a.authorize(alice, 'h', Op.READ, RT.TOPIC, 'x-sales-eu'), false);
  });

  it('lets a DENY win over any ALLOW, through wildcards and prefixes too', () => {
    const a = authz([
      acl({ resourceName: '*', operation: Op.ALL }),
      acl({ resourceName: 'secret-', patternType: PatternType.PREFIXED, permission: Perm.DENY }),
      acl({ resourceName: 'orders', principal: 'User:*', permission: Perm.DENY, operation: Op.WRITE }),
    ]);
    assert.equal(a.authorize(alice, 'h', Op.READ, RT.TOPIC, 'public'), true);
    assert.equal(a.authorize(alice, 'h', Op.READ, RT.TOPIC, 'secret-x'), false);
    assert.equal(a.authorize(alice, 'h', Op.WRITE, RT.TOPIC, 'secret-x'), true, 'the deny is for Read only');
    assert.equal(a.authorize(alice, 'h', Op.WRITE, RT.TOPIC, 'orders'), false);
    assert.equal(a.authorize(alice, 'h', Op.READ, RT.TOPIC, 'orders'), true);
  });

  it('a DENY of All denies every operation', () => {
    const a = authz([acl({ operation: Op.ALL }), acl({ operation: Op.ALL, permission: Perm.DENY, host: '6.6.6.6' })]);
    assert.equal(a.authorize(alice, '1.1.1.1', Op.DESCRIBE, RT.TOPIC, 'orders'), true);
    assert.equal(a.authorize(alice, '6.6.6.6', Op.DESCRIBE, RT.TOPIC, 'orders'), false);
  });

  it('implies Describe from Read, Write, Delete and Alter, DescribeConfigs from AlterConfigs', () => {
    for (const op of [Op.READ, Op.WRITE, Op.DELETE, Op.ALTER]) {
      const a = authz([acl({ operation: op })]);
      assert.equal(a.authorize(alice, 'h', Op.DESCRIBE, RT.TOPIC, 'orders'), true, `Describe from ${op}`);
      assert.equal(a.authorize(alice, 'h', Op.DESCRIBE_CONFIGS, RT.TOPIC, 'orders'), false);
    }
    const b = authz([acl({ operation: Op.ALTER_CONFIGS })]);
    assert.equal(b.authorize(alice, 'h', Op.DESCRIBE_CONFIGS, RT.TOPIC, 'orders'), true);
    assert.equal(b.authorize(alice, 'h', Op.DESCRIBE, RT.TOPIC, 'orders'), false);
    const c = authz([acl({ operation: Op.CREATE })]);
    assert.equal(c.authorize(alice, 'h', Op.DESCRIBE, RT.TOPIC, 'orders'), false, 'Create implies nothing');
  });

  it('does not imply denials: a DENY of Read leaves an ALLOW of Describe', () => {
    const a = authz([acl({ operation: Op.DESCRIBE }), acl({ permission: Perm.DENY })]);
    assert.equal(a.authorize(alice, 'h', Op.DESCRIBE, RT.TOPIC, 'orders'), true);
    assert.equal(a.authorize(alice, 'h', Op.READ, RT.TOPIC, 'orders'), false);
  });

  it('lets super users do everything, DENY or not', () => {
    const a = authz([acl({ principal: 'User:admin', operation: Op.ALL, permission: Perm.DENY })], {
      superUsers: ['User:admin', 'User:ops'],
    });
    assert.equal(a.authorize(userPrincipal('admin'), 'h', Op.WRITE, RT.TOPIC, 'orders'), true);
    assert.equal(a.authorize(userPrincipal('ops'), 'h', Op.CLUSTER_ACTION, RT.CLUSTER, 'kafka-cluster'), true);
    assert.equal(a.authorize(alice, 'h', Op.WRITE, RT.TOPIC, 'orders'), false);
  });

  it('allow.everyone.if.no.acl.found allows only resources no ACL applies to', () => {
    const a = authz([acl({ principal: 'User:bob' })], { allowEveryone: true });
    assert.equal(a.authorize(alice, 'h', Op.WRITE, RT.TOPIC, 'free'), true);
    assert.equal(a.authorize(alice, 'h', Op.WRITE, RT.GROUP, 'g'), true);
    assert.equal(a.authorize(alice, 'h', Op.READ, RT.TOPIC, 'orders'), false, "bob's ACL applies to orders");
    const closed = authz([], { allowEveryone: false });
    assert.equal(closed.authorize(alice, 'h', Op.READ, RT.TOPIC, 'free'), false);
  });

  it('sees ACL changes of its source', () => {
    const source = { aclVersion: 1, acls: new Map() };
    const a = new Authorizer({ superUsers: [], allowEveryoneIfNoAclFound: false }, source);
    assert.equal(a.authorize(alice, 'h', Op.READ, RT.TOPIC, 'orders'), false);
    source.acls.set('x', { ...acl({}), id: 'x' });
    source.aclVersion = 2;
    assert.equal(a.authorize(alice, 'h', Op.READ, RT.TOPIC, 'orders'), true);
  });

  it('authorizeByResourceType: an ALLOW somewhere that no DENY covers', () => {
    const a = authz([acl({ operation: Op.WRITE, resourceName: 'a-', patternType: PatternType.PREFIXED })]);
    assert.equal(a.authorizeByResourceType(alice, 'h', Op.WRITE, RT.TOPIC), true);
    assert.equal(a.authorizeByResourceType(bob, 'h', Op.WRITE, RT.TOPIC), false);
    const b = authz([
      acl({ operation: Op.WRITE, resourceName: 'a-x', patternType: PatternType.PREFIXED }),
      acl({ operation: Op.WRITE, resourceName: 'a-', patternType: PatternType.PREFIXED, permission: Perm.DENY }),
    ]);
    assert.equal(b.authorizeByResourceType(alice, 'h', Op.WRITE, RT.TOPIC), false);
    const c = authz([
      acl({ operation: Op.WRITE }),
      acl({ resourceName: '*', operation: Op.WRITE, permission: Perm.DENY }),
    ]);
    assert.equal(c.authorizeByResourceType(alice, 'h', Op.WRITE, RT.TOPIC), false);
  });

  it('validates bindings and matches filters as Kafka', () => {
    assert.equal(validateBinding(acl({})), null);
    assert.match(validateBinding(acl({ patternType: PatternType.MATCH }))!, /patternType/);
    assert.match(validateBinding(acl({ operation: Op.ANY }))!, /operation/);
    assert.match(validateBinding(acl({ principal: 'alice' }))!, /principal/);
    assert.match(validateBinding(acl({ resourceType: RT.CLUSTER, resourceName: 'c' }))!, /kafka-cluster/);
    assert.match(validateBinding(acl({ resourceName: '' }))!, /empty/);
    const any: AclFilter = {
      resourceType: RT.ANY,
      resourceName: null,
      patternType: PatternType.ANY,
      principal: null,
      host: null,
      operation: Op.ANY,
      permission: Perm.ANY,
    };
    const prefixed = acl({ resourceName: 'sales-', patternType: PatternType.PREFIXED });
    assert.equal(filterMatches(any, prefixed), true);
    assert.equal(filterMatches({ ...any, patternType: PatternType.MATCH, resourceName: 'sales-eu' }, prefixed), true);
    assert.equal(
      filterMatches({ ...any, patternType: PatternType.LITERAL, resourceName: 'sales-eu' }, prefixed),
      false,
    );
    assert.equal(filterMatches({ ...any, patternType: PatternType.PREFIXED, resourceName: 'sales-' }, prefixed), true);
    assert.equal(filterMatches({ ...any, resourceName: 'sales-' }, prefixed), true);
    assert.equal(filterMatches({ ...any, principal: 'User:bob' }, prefixed), false);
    assert.equal(filterMatches({ ...any, operation: Op.WRITE }, prefixed), false);
    assert.equal(filterMatches({ ...any, permission: Perm.DENY }, prefixed), false);
    const wildcard = acl({ resourceName: '*' });
    assert.equal(filterMatches({ ...any, patternType: PatternType.MATCH, resourceName: 'orders' }, wildcard), true);
  });

  it('the CONTROLLER listener admits ClusterAction on the cluster only (ApiVersions: anyone)', () => {
    const gate = controllerListenerGate(
      authz([
        acl({
          resourceType: RT.CLUSTER,
          resourceName: 'kafka-cluster',
          principal: 'User:broker',
          operation: Op.CLUSTER_ACTION,
        }),
      ]),
    );
    const warned: string[] = [];
    const conn = (name: string) => ({
      principal: userPrincipal(name),
      ip: '10.0.0.1',
      warn: (m: string) => warned.push(m),
    });
    const frame = (apiKey: number) => {
      const f = Buffer.alloc(8);
      f.writeInt16BE(apiKey, 0);
      return f;
    };
    assert.equal(gate(frame(62), conn('broker')), undefined);
    assert.equal(gate(frame(18), conn('alice')), undefined);
    assert.equal(gate(frame(62), conn('alice')), 'close');
    assert.equal(gate(frame(52), conn('alice')), 'close');
    assert.match(warned.join('\n'), /CONTROLLER listener/);
  });
});
