/**
 * The record-batch toolkit in one import: header accessors, codecs, batch
 * decode/encode and cursor, control records, produce-path validation.
 */
export * from './batch-header.ts';
export * from './compression.ts';
export * from './record-batch.ts';
export * from './control.ts';
export * from './validate.ts';
