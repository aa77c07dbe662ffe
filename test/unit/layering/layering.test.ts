// Dependency direction: server → shared ← puller; shared never imports
// server/puller; puller never imports fastify.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (n.endsWith('.ts')) out.push(p);
  }
  return out;
}

function imports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'"]*from\s+'([^']+)'/gm)].map((m) => m[1] as string);
}

it('shared/ imports neither server/ nor puller/', () => {
  for (const f of tsFiles(join(ROOT, 'shared'))) {
    for (const i of imports(f)) expect(i, relative(ROOT, f)).not.toMatch(/(^|\/)(server|puller)\//);
  }
});

it('puller/ does not import server/ or fastify; server/ does not import puller/', () => {
  for (const f of tsFiles(join(ROOT, 'puller'))) {
    for (const i of imports(f)) {
      expect(i, relative(ROOT, f)).not.toMatch(/(^|\/)server\//);
      expect(i, relative(ROOT, f)).not.toMatch(/fastify/);
    }
  }
  let serverFiles: string[] = [];
  try { serverFiles = tsFiles(join(ROOT, 'server')); } catch { serverFiles = []; }
  for (const f of serverFiles) for (const i of imports(f)) expect(i, relative(ROOT, f)).not.toMatch(/(^|\/)puller\//);
});

it('ots --version reports the package version', async () => {
  const { VERSION } = await import('../../../puller/version.js');
  expect(VERSION).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
});
