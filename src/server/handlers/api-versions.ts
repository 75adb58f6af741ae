/** ApiVersions: the APIs and version ranges this broker serves (KIP-35, KIP-511). */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { AdminNode } from '../broker.ts';
import type { Handler } from '../dispatcher.ts';
import type { ApiVersionsRequest, ApiVersionsResponseInput } from '../../protocol/generated/messages.ts';

export function apiVersionsHandler(
  b: Pick<AdminNode, 'dispatcher'>,
): Handler<ApiVersionsRequest, ApiVersionsResponseInput> {
  return () => ({
    errorCode: ErrorCode.NONE,
    apiKeys: b.dispatcher.supportedApis(),
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1,
    finalizedFeatures: [],
    zkMigrationReady: false,
  });
}
