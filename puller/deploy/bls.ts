// Boot Loader Specification entries as ostree writes and reads them
// (deployments.md §3). Pure.

/** One entry: keys in file order (a key may repeat, e.g. a second initrd). */
export type BlsEntry = [key: string, value: string][];

/** Serialise: "key value" per line, in order. */
export function formatBls(entry: BlsEntry): string {
  return entry.map(([k, v]) => `${k} ${v}`).join('\n') + '\n';
}

/** Parse: only lines starting with an ASCII letter count; split at the first space or tab. */
export function parseBls(text: string): BlsEntry {
  const out: BlsEntry = [];
  for (const line of text.split('\n')) {
    if (!/^[A-Za-z]/.test(line)) continue;
    const m = /^(\S+)[ \t]+(.*)$/.exec(line.trimEnd());
    if (m) out.push([m[1] as string, m[2] as string]);
    else out.push([line.trim(), '']);
  }
  return out;
}

export function blsGet(entry: BlsEntry, key: string): string | undefined {
  return entry.find(([k]) => k === key)?.[1];
}

/** Split kernel arguments on whitespace (quotes are kept with their word). */
export function splitKargs(options: string): string[] {
  return options.split(/\s+/).filter(Boolean);
}

/** Replace (or append) `key=value` in a karg list, keeping position of the first occurrence. */
export function setKarg(kargs: string[], key: string, value: string): string[] {
  const out = kargs.filter((k) => k !== key && !k.startsWith(`${key}=`));
  out.push(`${key}=${value}`);
  return out;
}

/** glibc strverscmp-like comparison for the BLS `version` field (numbers compare numerically). */
export function compareVersions(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d/.test(x) && /^\d/.test(y);
    const c = nx ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c;
  }
  return 0;
}
