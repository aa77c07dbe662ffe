// `ots`: the ostree-compatible command line. Global options, dispatch to one
// file per verb, exit codes and error printing like ostree's.
import { OtError, isOtError } from '../shared/errors.js';
import { setTestFault } from '../shared/repo/index.js';
import { cat } from './commands/cat.js';
import { checkout } from './commands/checkout.js';
import { commit } from './commands/commit.js';
import { fsck } from './commands/fsck.js';
import { init } from './commands/init.js';
import { log } from './commands/log.js';
import { ls } from './commands/ls.js';
import { pull } from './commands/pull.js';
import { admin } from './commands/admin.js';
import { gpgSignCmd } from './commands/gpg-sign.js';
import { sign } from './commands/sign.js';
import { remote } from './commands/remote.js';
import { refs } from './commands/refs.js';
import { revParse } from './commands/rev-parse.js';
import { show } from './commands/show.js';
import { summary } from './commands/summary.js';
import type { Command, CommandContext } from './context.js';

const COMMANDS: Record<string, [Command, string]> = {
  init: [init, 'Initialize a new empty repository'],
  commit: [commit, 'Commit a new revision'],
  checkout: [checkout, 'Check out a commit into a filesystem tree'],
  ls: [ls, 'List file paths'],
  cat: [cat, 'Concatenate contents of files'],
  show: [show, 'Output a metadata object'],
  log: [log, 'Show log starting at commit or ref'],
  refs: [refs, 'List refs'],
  'rev-parse': [revParse, 'Output the target of a rev'],
  fsck: [fsck, 'Check the repository for consistency'],
  summary: [summary, 'Manage summary metadata'],
  remote: [remote, 'Remote commands that may involve network access'],
  pull: [pull, 'Download data from a remote repository'],
  admin: [admin, 'Commands for managing a host system booted with ostree'],
  'gpg-sign': [gpgSignCmd, 'Sign a commit with GPG'],
  sign: [sign, 'Sign or verify a commit with ed25519'],
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
  if (verb === undefined || verb === 'help' || rest.includes('--help') && verb === undefined) {
    ctx.io.out(usage());
    return verb === undefined ? 1 : 0;
  }
  const entry = COMMANDS[verb];
  if (!entry) {
    ctx.io.err(`error: Unknown command '${verb}'\n${usage()}`);
    return 1;
  }
  setTestFault(env.OSTREE_TS_TEST_FAULT);
  try {
    return await entry[0](ctx, rest);
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
