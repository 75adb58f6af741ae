/** The declarations the generated protocol types come from: every API, and the `__consumer_offsets` records. */
import { ALL_API_SPECS } from './messages/index.ts';
import {
  GroupMetadataKey,
  GroupMetadataValue,
  OffsetCommitKey,
  OffsetCommitValue,
} from './messages/consumer-offsets-records.ts';
import { renderProtocolTypes } from './typegen.ts';

/** The `__consumer_offsets` record formats (not APIs). */
export const RECORD_SPECS = [OffsetCommitKey, OffsetCommitValue, GroupMetadataKey, GroupMetadataValue];

export function protocolTypesSource(): string {
  return renderProtocolTypes({ apis: ALL_API_SPECS, records: RECORD_SPECS });
}
