// A pull of thousands of objects moves verified objects into objects/ before
// its commit (Transaction.flushEarly). Killed right after such a move, the
// repository holds only verified objects and the commit stays partial; the
// rerun fetches only what is missing and ostree fsck passes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ostree, ots, otsRun } from '../../helpers/run.js';
import { startOtsServer } from '../../helpers/servers.js';
import { makeTmpDir } from '../../helpers/tmp.js';

it('a pull killed after an early flush resumes, fetching only what is missing', async () => {
  const t = makeTmpDir();
  const tree = join(t, 'tree');
  for (let d = 0; d < 40; d++) {
    mkdirSync(join(tree, `d${d}`), { recursive: true });
    for (let f = 0; f < 60; f++) writeFileSync(join(tree, `d${d}`, `f${f}`), `file ${d}/${f}\n`);
  }
  const src = join(t, 'src');
  await ots(`--repo=${src}`, 'init', '--mode=archive');
  const commit = (await ots(`--repo=${src}`, 'commit', '-b', 'main', tree)).trim();
  await ots(`--repo=${src}`, 'summary', '-u');
  const srv = await startOtsServer(src);
  const contentGets = async () => {
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    return [...text.matchAll(/ots_http_requests_total\{class="object",status="200"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  };
  const c = join(t, 'client');
  await ots(`--repo=${c}`, 'init', '--mode=bare-user');
  await ots(`--repo=${c}`, 'remote', 'add', '--no-gpg-verify', 'o', srv.url);
  const killed = await otsRun([`--repo=${c}`, 'pull', 'o', 'main'], { env: { OSTREE_TS_TEST_FAULT: 'transaction-after-early-flush' } });
  expect(killed.signal).toBe('SIGKILL');
  const first = await contentGets();
  expect(first).toBeGreaterThan(1500);
  const out = JSON.parse((await ots(`--repo=${c}`, 'pull', '--json', 'o', 'main')).trim().split('\n').pop() as string) as { contentFetched: number; metadataFetched: number };
  const second = (await contentGets()) - first;
  // The rerun fetched only objects the killed pull had not moved into objects/ (>= 1,500 were).
  expect(second).toBe(out.contentFetched + out.metadataFetched);
  expect(out.contentFetched).toBeLessThanOrEqual(2400 - 1500);
  expect(await ots(`--repo=${c}`, 'rev-parse', 'o:main')).toBe(`${commit}\n`);
  await ostree('fsck', `--repo=${c}`);
}, 120_000);
