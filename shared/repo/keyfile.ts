// GLib keyfile (INI) read/write for the repo `config` and remote files
// (repo-layout.md §6). Keeps comments, group and key order. Pure.

type Line = { kind: 'group'; name: string } | { kind: 'entry'; key: string; value: string } | { kind: 'other'; text: string };

/** A parsed keyfile that round-trips untouched parts byte for byte. */
export class KeyFile {
  private lines: Line[];

  private constructor(lines: Line[]) {
    this.lines = lines;
  }

  /** Parse keyfile text. Never throws: unknown lines are kept verbatim. */
  static parse(text: string): KeyFile {
    const lines: Line[] = [];
    for (const raw of text.split('\n')) {
      const t = raw.trim();
      if (t.startsWith('[') && t.endsWith(']')) lines.push({ kind: 'group', name: t.slice(1, -1) });
      else if (t !== '' && !t.startsWith('#') && t.includes('=')) {
        const i = t.indexOf('=');
        lines.push({ kind: 'entry', key: t.slice(0, i).trim(), value: t.slice(i + 1).trim() });
      } else lines.push({ kind: 'other', text: raw });
    }
    while (lines.length > 0 && lines[lines.length - 1]?.kind === 'other' && (lines[lines.length - 1] as { text: string }).text === '') lines.pop();
    return new KeyFile(lines);
  }

  /** An empty keyfile. */
  static empty(): KeyFile {
    return new KeyFile([]);
  }

  /** Serialise, ending with a newline. */
  toString(): string {
    const out = this.lines.map((l) => (l.kind === 'group' ? `[${l.name}]` : l.kind === 'entry' ? `${l.key}=${l.value}` : l.text));
    return out.join('\n') + '\n';
  }

  /** Group names in file order. */
  groups(): string[] {
    return this.lines.filter((l): l is Line & { kind: 'group' } => l.kind === 'group').map((l) => l.name);
  }

  /** Keys of a group in file order. */
  keys(group: string): string[] {
    return this.entries(group).map(([k]) => k);
  }

  /** (key, raw value) pairs of a group. */
  entries(group: string): [string, string][] {
    const out: [string, string][] = [];
    let inGroup = false;
    for (const l of this.lines) {
      if (l.kind === 'group') inGroup = l.name === group;
      else if (inGroup && l.kind === 'entry') out.push([l.key, unescapeValue(l.value)]);
    }
    return out;
  }

  /** A value, or undefined. */
  get(group: string, key: string): string | undefined {
    let found: string | undefined;
    for (const [k, v] of this.entries(group)) if (k === key) found = v;
    return found;
  }

  /** A boolean as GLib reads it (true/false, also 1/0). */
  getBoolean(group: string, key: string, fallback: boolean): boolean {
    const v = this.get(group, key);
    if (v === undefined) return fallback;
    return v === 'true' || v === '1';
  }

  /** A `;`-separated list. */
  getList(group: string, key: string): string[] {
    const v = this.get(group, key);
    if (v === undefined || v === '') return [];
    return v.split(';').filter((s) => s !== '');
  }

  hasGroup(group: string): boolean {
    return this.groups().includes(group);
  }

  /** Set a value, adding the group (at the end) and key (at the end of the group) as needed. */
  set(group: string, key: string, value: string): void {
    const escaped = escapeValue(value);
    let inGroup = false;
    let lastInGroup = -1;
    for (let i = 0; i < this.lines.length; i++) {
      const l = this.lines[i] as Line;
      if (l.kind === 'group') { inGroup = l.name === group; if (inGroup) lastInGroup = i; continue; }
      if (!inGroup) continue;
      if (l.kind === 'entry') {
        lastInGroup = i;
        if (l.key === key) { l.value = escaped; return; }
      }
    }
    if (lastInGroup === -1) {
      if (this.lines.length > 0) this.lines.push({ kind: 'other', text: '' });
      this.lines.push({ kind: 'group', name: group });
      lastInGroup = this.lines.length - 1;
    }
    this.lines.splice(lastInGroup + 1, 0, { kind: 'entry', key, value: escaped });
  }

  /** Remove a whole group. Returns whether it existed. */
  removeGroup(group: string): boolean {
    const before = this.lines.length;
    const out: Line[] = [];
    let inGroup = false;
    for (const l of this.lines) {
      if (l.kind === 'group') inGroup = l.name === group;
      if (!inGroup) out.push(l);
    }
    while (out.length > 0 && out[out.length - 1]?.kind === 'other' && (out[out.length - 1] as { text: string }).text === '') out.pop();
    this.lines = out;
    return out.length !== before;
  }
}

function unescapeValue(v: string): string {
  return v.replace(/\\([sntr\\])/g, (_m, c: string) => ({ s: ' ', n: '\n', t: '\t', r: '\r', '\\': '\\' })[c] ?? c);
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r').replace(/^ /, '\\s');
}
