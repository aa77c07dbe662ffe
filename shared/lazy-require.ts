// Packages and builtins loaded on first use (start-up time: most commands
// never need openpgp, xz or zstd). Through require(), not import(): `ots`
// starts from a V8 startup snapshot (scripts/bundle.mjs), where dynamic
// import() is unavailable. ESM-only packages (fs-xattr) load through Node's
// require(esm) (Node >= 20.19). node:module is reached through
// process.getBuiltinModule so that the snapshot never captures it.
let req: NodeJS.Require | undefined;

/** require `id` (a package or `node:` builtin) relative to this package. */
export function lazyRequire<T>(id: string): T {
  if (id.startsWith('node:')) return process.getBuiltinModule(id) as T;
  req ??= process.getBuiltinModule('node:module').createRequire(import.meta.url);
  return req(id) as T;
}
