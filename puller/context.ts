// What every CLI command receives: parsed global options and output helpers.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { OtError } from '../shared/errors.js';
import { Repo } from '../shared/repo/index.js';

export interface Output {
  /** Write a line to stdout. */
  out(line: string): void;
  /** Write a line to stderr. */
  err(line: string): void;
  /** Whether stderr is a terminal (progress bars only then). */
  isTTY: boolean;
}

export interface CommandContext {
  io: Output;
  /** --repo, or OSTREE_REPO from the environment. */
  repoPath: string | undefined;
  /** Seconds since the epoch, for anything that records "now". */
  now: () => bigint;
  env: Readonly<Record<string, string | undefined>>;
}

export type Command = (ctx: CommandContext, argv: string[]) => Promise<number>;

type Options = NonNullable<ParseArgsConfig['options']>;

const GLOBAL: Options = {
  repo: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Parse a command's arguments (plus the global ones). Unknown flags are ERR_INVALID_ARGUMENT. */
export function parseCommand<T extends Options>(argv: string[], options: T, usage: string) {
  try {
    const parsed = parseArgs({ args: argv, options: { ...GLOBAL, ...options }, allowPositionals: true, strict: true });
    return parsed as typeof parsed & { values: { repo?: string; json?: boolean; help?: boolean } };
  } catch (err: unknown) {
    throw new OtError('ERR_INVALID_ARGUMENT', err instanceof Error ? err.message : String(err), { hint: `usage: ${usage}` });
  }
}

/** Open the repository named by --repo / OSTREE_REPO. */
export async function openRepo(ctx: CommandContext, flag: string | undefined): Promise<Repo> {
  const path = flag ?? ctx.repoPath;
  if (path === undefined) {
    throw new OtError('ERR_INVALID_ARGUMENT', 'No repository given', { hint: 'pass --repo=PATH or set OSTREE_REPO' });
  }
  return Repo.open(path);
}

/** Throw a usage error unless `n` positionals were given. */
export function needArgs(positionals: string[], n: number, usage: string): void {
  if (positionals.length < n) throw new OtError('ERR_INVALID_ARGUMENT', `Missing argument`, { hint: `usage: ${usage}` });
}
