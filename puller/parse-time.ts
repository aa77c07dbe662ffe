// --timestamp values: @EPOCH or a date string (ISO 8601 and what Date.parse reads).
import { OtError } from '../shared/errors.js';

/** Parse a timestamp argument into Unix seconds. */
export function parseTimestamp(text: string): bigint {
  if (/^@\d+$/.test(text)) return BigInt(text.slice(1));
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new OtError('ERR_INVALID_ARGUMENT', `Could not parse timestamp '${text}'`, { hint: 'use @EPOCH or an ISO 8601 date' });
  return BigInt(Math.floor(ms / 1000));
}

/** Format Unix seconds the way ostree show does: 2024-01-01 00:00:00 +0000. */
export function formatDate(seconds: bigint): string {
  const d = new Date(Number(seconds) * 1000);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} +0000`;
}
