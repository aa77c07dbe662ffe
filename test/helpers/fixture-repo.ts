// The spec's fixture repository (made by ostree 2022.7), loaded from test/fixtures.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';

export interface FixtureObject {
  path: string; checksum: string; ext: string; hex: string;
  content_hex?: string; hashed_stream_hex?: string; bare_user_ostreemeta_xattr_hex?: string;
  uid?: number; gid?: number; mode_octal?: string; symlink_target?: string;
}
export interface Fixture {
  commits: { A: string; B: string };
  files: Record<string, string>;
  objects: FixtureObject[];
}

export const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/vectors/fixture-repo.json', import.meta.url), 'utf8'),
) as Fixture;

/** Write the fixture repo's files into `dir`. */
export function materialiseFixture(dir: string): void {
  for (const [rel, hex] of Object.entries(fixture.files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, Buffer.from(hex, 'hex'));
  }
  for (const d of ['tmp', 'state', 'refs/remotes', 'refs/mirrors', 'extensions']) mkdirSync(join(dir, d), { recursive: true });
}
