// `ots`: the ostree-compatible command line. Global options, dispatch to one
// file per verb, exit codes and error printing like ostree's.
import { OtError, isOtError } from '../shared/errors.js';
import { setTestFault } from '../shared/repo/index.js';
import type { Command, CommandContext } from './context.js';
import { VERSION } from './version.js';

/**
 * Verbs and the module that implements each, loaded on first use: importing
 * every command eagerly (openpgp, undici, tar-stream…) cost ~150 ms of start-up
 * on every invocation (measured with --cpu-prof).
 */
const COMMANDS: Record<string, [() => Promise<Command>, string]> = {
  init: [async () => (await import('./commands/init.js')).init, 'Initialize a new empty repository'],
  commit: [async () => (await import('./commands/commit.js')).commit, 'Commit a new revision'],
  checkout: [async () => (await import('./commands/checkout.js')).checkout, 'Check out a commit into a filesystem tree'],
  ls: [async () => (await import('./commands/ls.js')).ls, 'List file paths'],
  cat: [async () => (await import('./commands/cat.js')).cat, 'Concatenate contents of files'],
  show: [async () => (await import('./commands/show.js')).show, 'Output a metadata object'],
  log: [async () => (await import('./commands/log.js')).log, 'Show log starting at commit or ref'],
  refs: [async () => (await import('./commands/refs.js')).refs, 'List refs'],
  'rev-parse': [async () => (await import('./commands/rev-parse.js')).revParse, 'Output the target of a rev'],
  prune: [async () => (await import('./commands/prune.js')).prune, 'Search for unreachable objects'],
  fsck: [async () => (await import('./commands/fsck.js')).fsck, 'Check the repository for consistency'],
  summary: [async () => (await import('./commands/summary.js')).summary, 'Manage summary metadata'],
  remote: [async () => (await import('./commands/remote.js')).remote, 'Remote commands that may involve network access'],
  pull: [async () => (await import('./commands/pull.js')).pull, 'Download data from a remote repository'],
  admin: [async () => (await import('./commands/admin.js')).admin, 'Commands for managing a host system booted with ostree'],
  'gpg-sign': [async () => (await import('./commands/gpg-sign.js')).gpgSignCmd, 'Sign a commit with GPG'],
  sign: [async () => (await import('./commands/sign.js')).sign, 'Sign or verify a commit with ed25519'],
  'static-delta': [async () => (await import('./commands/static-delta.js')).staticDelta, 'Static delta related commands'],
};

function usage(): string {
  const lines = ['Usage: ots [--repo=PATH] COMMAND [OPTIONS...]', '', 'Builtin commands:'];
  for (const [name, [, help]] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)} ${help}`);
  return lines.join('\n');
}

/** Run the CLI with `argv` (without node and script). Returns the exit code. */
export async function main(argv: string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const rest: string[] = [];
  let repoPath = env.OSTREE_REPO;
  let verb: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (verb === undefined && a.startsWith('--repo=')) repoPath = a.slice(7);
    else if (verb === undefined && a === '--repo') repoPath = argv[++i];
    else if (verb === undefined && !a.startsWith('-')) verb = a;
    else rest.push(a);
  }
  const ctx: CommandContext = {
    io: {
      out: (l) => process.stdout.write(`${l}\n`),
      err: (l) => process.stderr.write(`${l}\n`),
      isTTY: process.stderr.isTTY === true,
    },
    repoPath,
    now: () => BigInt(Math.floor(Date.now() / 1000)),
    env,
  };
  if (verb === undefined && rest.includes('--version')) {
    // Same shape as `ostree --version` (YAML), so scripts that parse one parse the other.
    ctx.io.out(`ots:\n Version: '${VERSION}'\n Features:\n  - gpg\n  - ed25519\n  - static-deltas\n  - static-deltas-zstd`);
    return 0;
  }
  if (verb === undefined || verb === 'help') {
    ctx.io.out(usage());
    return verb === undefined && !rest.includes('--help') && !rest.includes('-h') ? 1 : 0;
  }
  const entry = COMMANDS[verb];
  if (!entry) {
    ctx.io.err(`error: Unknown command '${verb}'\n${usage()}`);
    return 1;
  }
  setTestFault(env.OSTREE_TS_TEST_FAULT);
  try {
    return await (await entry[0]())(ctx, rest);
  } catch (err: unknown) {
    printError(ctx, err, rest.includes('--json'));
    return 1;
  }
}

function printError(ctx: CommandContext, err: unknown, json: boolean): void {
  const e = isOtError(err) ? err : new OtError('ERR_IO', err instanceof Error ? err.message : String(err), { cause: err });
  if (json) {
    ctx.io.err(JSON.stringify({ error: { code: e.code, message: e.message, checksum: e.checksum, path: e.path, hint: e.hint } }));
    return;
  }
  ctx.io.err(`error: ${e.message}`);
  if (e.hint) ctx.io.err(`hint: ${e.hint}`);
  if (ctx.env.OTS_DEBUG && err instanceof Error) ctx.io.err(err.stack ?? '');
}
