/** The declarations the generated protocol types come from: every API, and the `__consumer_offsets` records. */
import { ALL_API_SPECS } from './messages/index.ts';
import { GroupMetadataKey, GroupMetadataValue, OffsetCommitKey, OffsetCommitValue } from './messages/consumer-offsets-records.ts';
import { renderProtocolTypes } from './typegen.ts';

export function protocolTypesSource(): string {
  return renderProtocolTypes({
    apis: ALL_API_SPECS,
    records: [OffsetCommitKey, OffsetCommitValue, GroupMetadataKey, GroupMetadataValue],
  });
}
