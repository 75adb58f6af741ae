/** DescribeCluster and DescribeLogDirs: what the cluster and this broker's disks look like. */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { type Broker, brokerAddress, controllerIdForClients, liveBrokers } from '../broker.ts';
import type { Handler } from '../dispatcher.ts';
import type {
  DescribeClusterRequest,
  DescribeClusterResponseInput,
  DescribeLogDirsRequest,
  DescribeLogDirsResponseDescribeLogDirsTopicInput,
  DescribeLogDirsResponseInput,
} from '../../protocol/generated/messages.ts';

import { authorizedOperations, clusterAllowed, Op, Res } from '../../security/acl-check.ts';
import { CLUSTER_NAME } from '../../security/acl-types.ts';

const NO_AUTH_OPS = -2147483648;

export function describeClusterHandler(b: Broker): Handler<DescribeClusterRequest, DescribeClusterResponseInput> {
  return (req, ctx) => ({
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    endpointType: 1,
    clusterId: b.clusterId,
    controllerId: controllerIdForClients(b),
    brokers: liveBrokers(b.image).flatMap((br) => {
      const l = brokerAddress(b, br, ctx.conn?.listenerName);
      return l ? [{ brokerId: br.nodeId, host: l.host, port: l.port, rack: br.rack, isFenced: false }] : [];
    }),
    // ACLs: nothing is required; the operations allowed on the cluster are told when asked (KIP-430)
    clusterAuthorizedOperations:
      req.includeClusterAuthorizedOperations && ctx.authorizer
        ? clusterAllowed(ctx, Op.DESCRIBE)
          ? authorizedOperations(ctx, Res.CLUSTER, CLUSTER_NAME)
          : 0
        : NO_AUTH_OPS,
  });
}

export function describeLogDirsHandler(b: Broker): Handler<DescribeLogDirsRequest, DescribeLogDirsResponseInput> {
  return (req, ctx) => {
    // ACLs: Describe on the cluster
    if (!clusterAllowed(ctx, Op.DESCRIBE))
      return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, results: [] };
    const wanted: { topic: string; partitions: number[] }[] | null = req.topics;
    const results = b.config.logDirs.map((dir: string) => {
      const topics = new Map<string, DescribeLogDirsResponseDescribeLogDirsTopicInput>();
      const here = path.resolve(dir);
      for (const p of b.replicas.all()) {
        // a partition's directory sits directly in its log dir (a prefix match would take node-1 for node-10)
        if (p.log.dir !== undefined && path.dirname(path.resolve(p.log.dir)) !== here) continue;
        if (wanted && !wanted.some((w) => w.topic === p.topic.name && w.partitions.includes(p.index))) continue;
        let t = topics.get(p.topic.name);
        if (!t) topics.set(p.topic.name, (t = { name: p.topic.name, partitions: [] }));
        // Kafka's lag of a current replica is max(HW − LEO, 0), always 0; there are no future replicas
        // (AlterReplicaLogDirs is not served)
        t.partitions.push({ partitionIndex: p.index, partitionSize: p.log.size, offsetLag: 0, isFutureKey: false });
      }
      let totalBytes = -1;
      let usableBytes = -1;
      try {
        const st = fs.statfsSync(dir);
        totalBytes = st.blocks * st.bsize;
        usableBytes = st.bavail * st.bsize;
      } catch {
        // leave unknown
      }
      return { errorCode: ErrorCode.NONE, logDir: dir, topics: [...topics.values()], totalBytes, usableBytes };
    });
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, results };
  };
}
