"""Authorization matrix steps with kafka-python 2.0.2 and confluent-kafka-python over SASL_PLAINTEXT/PLAIN.

usage: acl_matrix.py OP BOOTSTRAP USER PASSWORD ARGS_JSON
Prints one JSON document: {"error": <Kafka error name or null>, ...}.

OP is one of:
  create_acls   ARGS: {"acls": [[type, name, pattern, principal, host, op, perm], ...]} (kafka-python create_acls)
  describe_acls ARGS: {} -> {"acls": [[...], ...]}
  produce       ARGS: {"topic": t} (kafka-python producer)
  consume       ARGS: {"topic": t, "group": g} (kafka-python group consumer, commits)
  create_topic  ARGS: {"topic": t} (kafka-python admin)
  delete_topic  ARGS: {"topic": t}
  describe_configs ARGS: {"topic": t}
  list_groups   ARGS: {} -> {"groups": [...]}
  txn           ARGS: {"topic": t, "txid": id} (confluent-kafka transactional producer)
  topics        ARGS: {} -> {"topics": [...]} (confluent-kafka metadata: what the principal may describe)
"""
import json
import sys

op, bootstrap, user, password = sys.argv[1:5]
args = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
out = {'error': None}


def kp_common():
    return dict(
        bootstrap_servers=bootstrap,
        security_protocol='SASL_PLAINTEXT',
        sasl_mechanism='PLAIN',
        sasl_plain_username=user,
        sasl_plain_password=password,
        api_version_auto_timeout_ms=20000,
    )


def ck_common():
    return {
        'bootstrap.servers': bootstrap,
        'security.protocol': 'SASL_PLAINTEXT',
        'sasl.mechanisms': 'PLAIN',
        'sasl.username': user,
        'sasl.password': password,
    }


def error_name(e):
    # kafka-python errors carry the Kafka name as `message`; others their class name
    return getattr(e, 'message', None) or type(e).__name__


try:
    if op in ('create_acls', 'describe_acls'):
        from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                                 KafkaAdminClient, ResourcePattern, ResourcePatternFilter, ResourceType)
        admin = KafkaAdminClient(**kp_common())
        if op == 'create_acls':
            acls = [
                ACL(principal=p, host=h, operation=ACLOperation[o], permission_type=ACLPermissionType[perm],
                    resource_pattern=ResourcePattern(ResourceType[t], n, ACLResourcePatternType[pat]))
                for t, n, pat, p, h, o, perm in args['acls']
            ]
            r = admin.create_acls(acls)
            failed = [error_name(err) for _, err in r['failed']]
            out['succeeded'] = len(r['succeeded'])
            out['error'] = failed[0] if failed else None
        else:
            acls, err = admin.describe_acls(ACLFilter(
                principal=None, host=None, operation=ACLOperation.ANY, permission_type=ACLPermissionType.ANY,
                resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY)))
            out['error'] = None if err.errno == 0 else error_name(err)
            out['acls'] = sorted([
                a.resource_pattern.resource_type.name, a.resource_pattern.resource_name,
                a.resource_pattern.pattern_type.name, a.principal, a.host, a.operation.name, a.permission_type.name,
            ] for a in acls)
        admin.close()
    elif op == 'produce':
        from kafka import KafkaProducer
        p = KafkaProducer(retries=0, max_block_ms=15000, **kp_common())
        try:
            p.send(args['topic'], b'v-' + user.encode()).get(timeout=20)
        finally:
            p.close(timeout=5)
    elif op == 'consume':
        from kafka import KafkaConsumer
        c = KafkaConsumer(args['topic'], group_id=args['group'], auto_offset_reset='earliest',
                          enable_auto_commit=False, consumer_timeout_ms=20000, **kp_common())
        try:
            values = []
            for m in c:
                values.append(m.value.decode())
                break
            c.commit()
            out['values'] = values
        finally:
            c.close(autocommit=False)
    elif op in ('create_topic', 'delete_topic', 'describe_configs', 'list_groups'):
        from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
        import kafka.errors as Errors
        admin = KafkaAdminClient(**kp_common())
        if op == 'create_topic':
            r = admin.create_topics([NewTopic(args['topic'], 1, 1)])
            code = r.topic_errors[0][1]
            out['error'] = None if code == 0 else Errors.for_code(code).message
        elif op == 'delete_topic':
            r = admin.delete_topics([args['topic']])
            code = r.topic_error_codes[0][1]
            out['error'] = None if code == 0 else Errors.for_code(code).message
        elif op == 'describe_configs':
            r = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, args['topic'])])
            code = r[0].resources[0][0]
            out['error'] = None if code == 0 else Errors.for_code(code).message
        else:
            out['groups'] = sorted(g for g, _ in admin.list_consumer_groups())
        admin.close()
    elif op == 'txn':
        from confluent_kafka import KafkaException, Producer
        p = Producer(dict(ck_common(), **{'transactional.id': args['txid']}))
        try:
            p.init_transactions(20)
            p.begin_transaction()
            p.produce(args['topic'], b'txn')
            p.commit_transaction(20)
        except KafkaException as e:
            out['error'] = e.args[0].name()
    elif op == 'topics':
        from confluent_kafka.admin import AdminClient
        md = AdminClient(ck_common()).list_topics(timeout=20)
        out['topics'] = sorted(t for t in md.topics if not t.startswith('__'))
    else:
        raise SystemExit('unknown op ' + op)
except Exception as e:  # noqa: BLE001 - the test asserts on the error name
    out['error'] = error_name(e)
print(json.dumps(out))
