// Human and JSON views of a commit, shaped like `ostree show` / `ostree log`.
import { Variant, type Value } from '../shared/gvariant/index.js';
import { contentChecksum, type Checksum, type Commit } from '../shared/objects/index.js';
import { formatDate } from './parse-time.js';

/** Lines of `ostree show`-style output. */
export function formatCommit(csum: Checksum, c: Commit): string[] {
  const lines = [`commit ${csum}`];
  if (c.parent) lines.push(`Parent:  ${c.parent}`);
  lines.push(`ContentChecksum:  ${contentChecksum(c)}`);
  lines.push(`Date:  ${formatDate(c.timestamp)}`);
  const version = c.metadata.find(([k]) => k === 'version')?.[1];
  if (version?.type === 's') lines.push(`Version: ${version.value as string}`);
  lines.push('');
  lines.push(`    ${c.subject === '' ? '(no subject)' : c.subject}`);
  if (c.body !== '') {
    lines.push('');
    for (const l of c.body.split('\n')) lines.push(`    ${l}`);
  }
  lines.push('');
  return lines;
}

/** A JSON-safe rendering of a GVariant value (bigints as strings, bytes as hex). */
export function jsonValue(v: Value): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (v instanceof Variant) return jsonValue(v.value);
  if (Array.isArray(v)) return (v as Value[]).map(jsonValue);
  return v;
}

/** Commit as a JSON object. */
export function commitJson(csum: Checksum, c: Commit): Record<string, unknown> {
  return {
    checksum: csum, parent: c.parent, subject: c.subject, body: c.body, timestamp: Number(c.timestamp),
    rootDirtree: c.rootDirtree, rootDirmeta: c.rootDirmeta, contentChecksum: contentChecksum(c),
    metadata: Object.fromEntries(c.metadata.map(([k, v]) => [k, jsonValue(v)])),
  };
}
