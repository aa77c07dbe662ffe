// Pull refs from a remote into a local repository (ostree pull): resolve refs
// through the summary (or refs/heads/), fetch each commit with its detached
// metadata, then walk dirtree → dirmeta/content fetching only what the local
// repo lacks, verifying every object before it is staged. Refs move only
// after the whole transaction is durable; a failed pull keeps the verified
// objects (so a rerun resumes) and the commitpartial marker.
import { trace } from '../../shared/trace.js';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OtError } from '../../shared/errors.js';
import { vardictGet } from '../../shared/gvariant/index.js';
import { decodeArchiveHeader, decodeDirtree, isChecksum, isSymlink, parseChecksum, type Checksum, type Commit, type Dirtree } from '../../shared/objects/index.js';
import { KeyFile, Transaction, parseRepoMode, startWriteback, tmpName, validateRefName, writeLargeContent, type RemoteConfig, type Repo } from '../../shared/repo/index.js';
import { decodeSummary, findSummaryRef, type Summary } from '../../shared/summary/index.js';
import { Fetcher, type FetchResult } from '../fetch/fetcher.js';
import { Scheduler } from './scheduler.js';
import { stageVerifiedArchiveContent, verifyArchiveContent, verifyMetadata } from './verify.js';
import { verifyArchiveContentFile } from './verify-file.js';
import { applyParts, fetchSuperblock, findDelta } from './deltas.js';
import { mirrorExtras } from './mirror.js';
import { readCachedSummary, writeCachedSummary } from './summary-cache.js';
import { SignaturePolicy } from './signature-policy.js';
import { decodeDetached } from '../../shared/sign/index.js';
import { nativeSys, nativeSystemError } from '../../shared/native/sys.js';
import { lazyRequire } from '../../shared/lazy-require.js';

/** OSTREE_MAX_METADATA_SIZE. */
export const MAX_METADATA_SIZE = 10 * 1024 * 1024;
/** Content objects are fetched into memory up to this size. */
export const MAX_CONTENT_SIZE = 512 * 1024 * 1024;

export interface PullOptions {
  /** Parent commits to fetch too: 0 none, -1 all. */
  depth: number;
  commitMetadataOnly: boolean;
  maxConcurrency: number;
  retries: number;
  headers: Record<string, string>;
  stallTimeoutMs: number;
  onEvent?: (e: PullEvent) => void;
  /** Mirror: refs go to refs/heads, and deltas, indexes, summary and summary.sig are copied (--mirror). */
  mirror?: boolean;
  /** Never use static deltas (--disable-static-deltas). */
  disableStaticDeltas?: boolean;
  /** Fail unless a static delta covers each target (--require-static-deltas). */
  requireStaticDeltas?: boolean;
  /** Trusted keyring directory used when a remote has no keyring of its own. */
  globalGpgDir: string;
}

export type PullEvent =
  /** ref is null for a commit pulled by its checksum (no ref is written). */
  | { type: 'resolved'; ref: string | null; checksum: Checksum }
  | { type: 'progress'; metadata: number; content: number; queued: number; bytes: number; requests: number }
  | { type: 'done'; ref: string | null; checksum: Checksum }
  | { type: 'delta'; name: string; dir: string; parts: number; objects: number; failedParts: number[] }
  | { type: 'mirror'; deltasCopied: number; deltasKept: number; indexes: number };

export interface PullResult {
  refs: { ref: string | null; checksum: Checksum }[];
  metadataFetched: number;
  contentFetched: number;
  bytes: number;
  requests: number;
  seconds: number;
  /** Verified objects taken over from an interrupted earlier pull. */
  adopted: number;
}


/** Pull `specs` (REF, REF@COMMIT or a commit checksum; all configured branches when empty) from `remote`. */
export async function pull(repo: Repo, remote: RemoteConfig, specs: string[], opts: PullOptions): Promise<PullResult> {
  const policy = await SignaturePolicy.load(repo.path, remote, { globalGpgDir: opts.globalGpgDir });
  const started = Date.now();
  const fetcherOpts = { connections: opts.maxConcurrency, headers: opts.headers, retries: opts.retries, stallTimeoutMs: opts.stallTimeoutMs };
  const fetcher = new Fetcher(remote.url, fetcherOpts);
  // contenturl (as in ostree): objects and deltas come from there; config, summary, refs and commitmeta from url.
  const contentUrl = remote.options.contenturl;
  if (contentUrl?.startsWith('mirrorlist=')) {
    await fetcher.close();
    throw new OtError('ERR_UNSUPPORTED', `contenturl=${contentUrl} of remote ${remote.name}: mirrorlists are not supported`, { hint: 'set contenturl to one http(s) URL' });
  }
  const content = contentUrl ? new Fetcher(contentUrl, fetcherOpts) : fetcher;
  try {
    const p = new Pull(repo, remote, fetcher, content, opts, policy);
    const refs = await p.run(specs.length > 0 || opts.mirror ? specs : remote.branches);
    return { refs, metadataFetched: p.metadataFetched, contentFetched: p.contentFetched, bytes: p.bytes, requests: p.requests, seconds: (Date.now() - started) / 1000, adopted: p.adopted };
  } finally {
    await fetcher.close();
    if (content !== fetcher) await content.close();
  }
}

class Pull {
  metadataFetched = 0;
  contentFetched = 0;
  adopted = 0;
  /** Targets already stored with their whole tree before this pull: not re-scanned, as in ostree. */
  private readonly completeAtStart = new Set<Checksum>();
  /** Parent commits this pull went into because of --depth: complete at the end, like the targets. */
  private readonly depthCommits = new Set<Checksum>();
  /** Objects requested or known present in this pull, by "type:checksum". */
  private readonly seen = new Set<string>();
  private readonly scheduler: Scheduler;
  private tx!: Transaction;
  /** Content objects for native/fetch.c (null: undici only), queued, and its running tasks. */
  private nativeFetch: NativeFetchTarget | null = null;
  private readonly nativeQueue: Checksum[] = [];
  private nativeWorkers = 0;
  /** The summary exactly as served (a mirror republishes these bytes). */
  private summaryBytes: Uint8Array | null = null;

  get bytes(): number { return this.fetcher.bytes + (this.content === this.fetcher ? 0 : this.content.bytes); }
  get requests(): number { return this.fetcher.requests + (this.content === this.fetcher ? 0 : this.content.requests); }

  constructor(
    private readonly repo: Repo, private readonly remote: RemoteConfig,
    /** config, summary, refs, commitmeta: the remote's url. */
    private readonly fetcher: Fetcher,
    /** objects and deltas: contenturl, else the same fetcher. */
    private readonly content: Fetcher,
    private readonly opts: PullOptions, private readonly policy: SignaturePolicy,
  ) {
    this.scheduler = new Scheduler(opts.maxConcurrency);
  }

  async run(wanted: string[]): Promise<{ ref: string | null; checksum: Checksum }[]> {
    trace('pull: start');
    const [summary] = await Promise.all([this.fetchSummary(), this.checkRemoteConfig()]);
    trace('pull: summary and config');
    // A mirror with no refs named takes every ref of the summary.
    const specs = wanted.length === 0 && this.opts.mirror ? (summary?.refs.map((r) => r.name) ?? []) : wanted;
    if (specs.length === 0) throw new OtError('ERR_INVALID_ARGUMENT', `No refs given and remote "${this.remote.name}" has no branches= list`, { hint: `usage: ots pull ${this.remote.name} REF` });
    const targets: { ref: string | null; checksum: Checksum; commitSize?: number }[] = [];
    for (const spec of specs) {
      const t = await this.resolve(spec, summary);
      targets.push(t);
      this.emit({ type: 'resolved', ref: t.ref, checksum: t.checksum });
    }
    this.nativeFetch = await nativeFetchTarget(this.content, this.repo);
    this.tx = await Transaction.begin(this.repo, { adoptOrphans: true });
    this.adopted = this.tx.adopted;
    try {
      // A target stored whole needs no scan; any other is marked partial first, so an
      // interrupted pull leaves it partial and the rerun scans its tree.
      for (const t of targets) if (this.isComplete(t.checksum)) this.completeAtStart.add(t.checksum);
      for (const t of targets) if (!this.completeAtStart.has(t.checksum)) await this.markPartial(t.checksum);
      let deltaObjects = 0;
      for (const t of targets) deltaObjects += await this.tryDelta(t, summary);
      // A delta wrote its objects in one burst: their writeback runs while the trees are walked.
      if (deltaObjects > 0) void startWriteback(this.repo.path);
      for (const t of targets) this.scheduler.addMeta(() => this.fetchCommit(t.checksum, t.ref, this.opts.depth, t.commitSize));
      await this.scheduler.idle();
      trace('pull: all objects stored');
    } catch (err: unknown) {
      // Keep what was verified so a rerun resumes; move no ref.
      await this.tx.commit([]).catch(() => this.tx.abort());
      throw err;
    }
    const refUpdates = targets.flatMap((t) => (t.ref === null ? [] : [{ name: t.ref, checksum: t.checksum, remote: this.opts.mirror ? null : this.remote.name }]));
    await this.tx.commit(refUpdates);
    trace('pull: committed');
    // A metadata-only pull leaves its commits partial (their trees are not here), as ostree does;
    // otherwise the targets and the parents fetched for --depth are now complete.
    if (!this.opts.commitMetadataOnly) {
      for (const c of [...targets.map((t) => t.checksum), ...this.depthCommits]) await rm(join(this.repo.path, 'state', `${c}.commitpartial`), { force: true });
    }
    for (const t of targets) this.emit({ type: 'done', ref: t.ref, checksum: t.checksum });
    if (this.opts.mirror) {
      const sig = (await this.fetcher.fetchBytes('summary.sig', { maxSize: MAX_METADATA_SIZE, optional: true })).body;
      const stats = await mirrorExtras(this.repo, this.content, this.summaryBytes, sig, summary, targets.map((t) => t.checksum));
      this.emit({ type: 'mirror', ...stats });
    }
    return targets.map((t) => ({ ref: t.ref, checksum: t.checksum }));
  }

  private emit(e: PullEvent): void {
    this.opts.onEvent?.(e);
  }

  private progress(): void {
    this.emit({ type: 'progress', metadata: this.metadataFetched, content: this.contentFetched, queued: this.seen.size, bytes: this.bytes, requests: this.requests });
  }

  private async fetchSummary(): Promise<Summary | null> {
    const cached = await readCachedSummary(this.repo, this.remote.name);
    const res = await this.fetcher.fetchBytes('summary', { maxSize: MAX_METADATA_SIZE, optional: true, ifNoneMatch: cached?.etag });
    const bytes = res.status === 304 && cached ? cached.bytes : res.body;
    if (this.policy.needsSummarySig) {
      if (bytes === null) {
        throw new OtError('ERR_SIGNATURE_MISSING', `Remote "${this.remote.name}" has summary verification enabled but serves no summary`);
      }
      const sig = await this.fetcher.fetchBytes('summary.sig', { maxSize: MAX_METADATA_SIZE, optional: true });
      await this.policy.verifySummary(bytes, sig.body === null ? null : decodeDetached(sig.body));
    }
    if (bytes === null) return null;
    this.summaryBytes = bytes;
    const summary = decodeSummary(bytes);
    if (res.status === 200 && res.body !== null && !racy(res.lastModified, res.date)) await writeCachedSummary(this.repo, this.remote.name, res.body, res.etag);
    return summary;
  }

  private async checkRemoteConfig(): Promise<void> {
    const res = await this.fetcher.fetchBytes('config', { maxSize: MAX_METADATA_SIZE });
    const mode = parseRepoMode(KeyFile.parse(Buffer.from(res.body ?? new Uint8Array(0)).toString('utf8')).get('core', 'mode'));
    if (mode !== 'archive') {
      throw new OtError('ERR_UNSUPPORTED', `Can't pull from archives with mode "${mode}"`, { url: this.fetcher.urlOf('config'), hint: 'only archive repositories can be served over HTTP' });
    }
  }

  private async resolve(spec: string, summary: Summary | null): Promise<{ ref: string | null; checksum: Checksum; commitSize?: number }> {
    // A bare commit checksum, as `ostree pull REMOTE CHECKSUM`: that commit, no ref.
    if (isChecksum(spec)) return { ref: null, checksum: spec };
    const at = spec.indexOf('@');
    const ref = at === -1 ? spec : spec.slice(0, at);
    validateRefName(ref);
    if (at !== -1) return { ref, checksum: parseChecksum(spec.slice(at + 1), `commit in ${spec}`) };
    if (summary !== null) {
      const entry = findSummaryRef(summary, ref);
      if (!entry) throw new OtError('ERR_REF_NOT_FOUND', `No such branch '${ref}' in repository summary`, { url: this.fetcher.urlOf('summary'), hint: `list the remote's refs with: ots remote refs ${this.remote.name}` });
      return { ref, checksum: entry.checksum, commitSize: Number(entry.commitSize) };
    }
    const res = await this.fetcher.fetchBytes(`refs/heads/${ref}`, { maxSize: 1024 });
    return { ref, checksum: parseChecksum(Buffer.from(res.body ?? new Uint8Array(0)).toString('utf8').trim(), `remote ref ${ref}`) };
  }

  /** Use a static delta for target `t` when one applies (bare targets only, as ostree); the number of objects it wrote. */
  private async tryDelta(t: { ref: string | null; checksum: Checksum }, summary: Summary | null): Promise<number> {
    // Not for archive targets, nor for a metadata-only pull (ostree disables them there too),
    // nor for a commit named by checksum (ostree looks deltas up for refs only).
    if (this.opts.disableStaticDeltas || this.opts.commitMetadataOnly || this.repo.isArchive || t.ref === null) return 0;
    let from = await this.repo.readRef(t.ref, this.remote.name);
    if (from === t.checksum) return 0;
    // A commit already here and complete needs no delta; a partial one (interrupted pull) still uses it.
    if (this.completeAtStart.has(t.checksum)) return 0;
    if (from !== null && !this.repo.hasObjectSync(from, 'commit')) from = null;
    const choice = await findDelta(this.content, summary, from, t.checksum, MAX_METADATA_SIZE);
    if (choice === null) {
      if (this.opts.requireStaticDeltas) throw new OtError('ERR_OBJECT_NOT_FOUND', `No static delta to ${t.checksum}${from ? ` from ${from}` : ''} on remote "${this.remote.name}"`, { hint: 'drop --require-static-deltas' });
      return 0;
    }
    const { sb, commitBytes, commit, detached } = await fetchSuperblock(this.content, choice, MAX_METADATA_SIZE);
    checkRefBinding(t.checksum, commit, t.ref);
    let meta = detached;
    if (meta === null) meta = (await this.fetcher.fetchBytes(objectPath(t.checksum, 'commitmeta'), { maxSize: MAX_METADATA_SIZE, optional: true })).body;
    await this.policy.verifyCommit(t.checksum, t.ref, commitBytes, meta === null ? [] : decodeDetached(meta));
    if (meta !== null) await this.tx.writeMetadata('commitmeta', meta, t.checksum);
    await this.tx.writeMetadata('commit', commitBytes, t.checksum);
    this.metadataFetched++;
    for (const f of sb.fallbacks) if (f.type === 'file') this.needContent(f.checksum);
    trace('pull: delta superblock');
    const { written, failed } = await applyParts({ tx: this.tx, fetcher: this.content }, choice, sb);
    this.emit({ type: 'delta', name: choice.name, dir: choice.dir, parts: sb.parts.length, objects: written, failedParts: failed });
    return written;
  }

  /** The commit and its whole tree are stored (no commitpartial marker). */
  private isComplete(csum: Checksum): boolean {
    return this.repo.hasObjectSync(csum, 'commit') && !this.repo.isCommitPartialSync(csum);
  }

  private async markPartial(commit: Checksum): Promise<void> {
    await mkdir(join(this.repo.path, 'state'), { recursive: true });
    await writeFile(join(this.repo.path, 'state', `${commit}.commitpartial`), '');
  }

  /** A target commit (ref: its ref, or null when named by checksum), or with `parent` one found walking --depth. */
  private async fetchCommit(csum: Checksum, ref: string | null, depth: number, sizeHint?: number, parent = false): Promise<void> {
    const meta = await this.fetcher.fetchBytes(objectPath(csum, 'commitmeta'), { maxSize: MAX_METADATA_SIZE, optional: true });
    if (meta.body !== null) verifyMetadata('commitmeta', csum, meta.body, this.fetcher.urlOf(objectPath(csum, 'commitmeta')));
    let commit: Commit;
    let commitBytes: Uint8Array;
    const complete = parent ? this.isComplete(csum) : this.completeAtStart.has(csum);
    const local = this.tx.hasObjectSync(csum, 'commit');
    if (local) {
      commitBytes = this.tx.readStagedSync(csum, 'commit');
      commit = verifyMetadata('commit', csum, commitBytes, this.repo.objectPath(csum, 'commit')) as Commit;
    } else {
      const path = objectPath(csum, 'commit');
      const res = await this.content.fetchBytes(path, { maxSize: sizeHint !== undefined && sizeHint > 0 && sizeHint < MAX_METADATA_SIZE ? Math.max(sizeHint, 1024) : MAX_METADATA_SIZE, optional: parent });
      if (res.body === null) return; // a missing parent commit ends the history walk
      commitBytes = res.body;
      commit = verifyMetadata('commit', csum, commitBytes, this.content.urlOf(path)) as Commit;
    }
    if (ref !== null) checkRefBinding(csum, commit, ref);
    // Signatures are checked before the commit or its detached metadata is staged.
    await this.policy.verifyCommit(csum, ref, commitBytes, meta.body === null ? [] : decodeDetached(meta.body));
    if (meta.body !== null) await this.tx.writeMetadata('commitmeta', meta.body, csum);
    if (!local) {
      await this.tx.writeMetadata('commit', commitBytes, csum);
      this.metadataFetched++;
    }
    if (parent && !complete) {
      await this.markPartial(csum);
      this.depthCommits.add(csum);
    }
    if (commit.parent !== null && depth !== 0) {
      const up = commit.parent;
      this.scheduler.addMeta(() => this.fetchCommit(up, null, depth - 1, undefined, true));
    }
    if (this.opts.commitMetadataOnly || complete) return;
    this.needDirmeta(commit.rootDirmeta);
    this.scanTree(commit.rootDirtree, commit.rootDirmeta);
  }

  /**
   * Walk a commit's tree for what is missing. With the native helper, the
   * part already stored (all of it after a static delta, ~700 trees and 6k
   * files) is walked in C in one job; the trees it could not find are
   * fetched and walked here as usual.
   */
  private scanTree(tree: Checksum, meta: Checksum): void {
    const native = nativeSys();
    if (native === null) { this.needDirtree(tree); return; }
    if (!this.firstSighting('scan', tree)) return;
    this.scheduler.addMeta(async () => {
      const res = await native.missingScan([this.tx.stagingDir, join(this.repo.path, 'objects')], tree, meta, this.repo.isArchive ? '.filez' : '.file');
      if (res.error) {
        const e = res.error;
        if ('errno' in e) throw nativeSystemError(e);
        throw new OtError(e.code, `Stored dirtree ${e.checksum ?? '?'}: ${e.message}`, { checksum: e.checksum, objectType: 'dirtree', hint: 'run ots fsck' });
      }
      for (const d of res.dirmeta) this.needDirmeta(d as Checksum);
      for (const f of res.file) this.needContent(f as Checksum);
      for (const t of res.dirtree) this.needDirtree(t as Checksum);
    });
  }

  /** True the first time an object is named in this pull (later mentions are already handled). */
  private firstSighting(type: 'dirmeta' | 'dirtree' | 'file' | 'scan', csum: Checksum): boolean {
    const key = `${type}:${csum}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }

  private needDirmeta(csum: Checksum): void {
    if (!this.firstSighting('dirmeta', csum)) return;
    if (this.tx.hasObjectSync(csum, 'dirmeta')) return;
    this.scheduler.addMeta(async () => {
      const path = objectPath(csum, 'dirmeta');
      const res = await this.content.fetchBytes(path, { maxSize: MAX_METADATA_SIZE });
      verifyMetadata('dirmeta', csum, res.body ?? new Uint8Array(0), this.content.urlOf(path));
      await this.tx.writeMetadata('dirmeta', res.body ?? new Uint8Array(0), csum);
      this.metadataFetched++;
    });
  }

  private needDirtree(csum: Checksum): void {
    if (!this.firstSighting('dirtree', csum)) return;
    this.scheduler.addMeta(async () => {
      let tree: Dirtree;
      if (this.tx.hasObjectSync(csum, 'dirtree')) {
        tree = decodeDirtree(this.tx.readStagedSync(csum, 'dirtree'));
      } else {
        const path = objectPath(csum, 'dirtree');
        const res = await this.content.fetchBytes(path, { maxSize: MAX_METADATA_SIZE });
        tree = verifyMetadata('dirtree', csum, res.body ?? new Uint8Array(0), this.content.urlOf(path)) as Dirtree;
        await this.tx.writeMetadata('dirtree', res.body ?? new Uint8Array(0), csum);
        this.metadataFetched++;
        this.progress();
      }
      for (const d of tree.dirs) { this.needDirmeta(d.dirmeta); this.needDirtree(d.dirtree); }
      for (const f of tree.files) this.needContent(f.checksum);
    });
  }

  /** Verify a spilled .filez and move it (archive) or its inflated payload (bare modes) into staging. */
  private async storeSpilled(csum: Checksum, file: string, url: string): Promise<void> {
    try {
      if (this.repo.isArchive) {
        await verifyArchiveContentFile(csum, file, url, null);
        await this.tx.stage(csum, 'file', false, (dest) => rename(file, dest));
        return;
      }
      const payload = `${file}.payload`;
      const header = await verifyArchiveContentFile(csum, file, url, payload);
      if (isSymlink(header)) await this.tx.writeContentAs(csum, header, new Uint8Array(0));
      else await writeLargeContent(this.tx, header, payload, csum, { move: true });
      await rm(payload, { force: true });
    } finally {
      await rm(file, { force: true });
    }
  }

  private needContent(csum: Checksum): void {
    if (!this.firstSighting('file', csum)) return;
    if (this.tx.hasObjectSync(csum, 'file')) return;
    if (this.nativeFetch !== null) {
      this.nativeQueue.push(csum);
      this.pumpNative(this.nativeFetch);
      return;
    }
    this.scheduler.addContent(() => this.fetchContent(csum));
  }

  /**
   * Content objects through native/fetch.c: NATIVE_WORKERS scheduler tasks,
   * each fetching batches of NATIVE_BATCH objects over one keep-alive
   * connection in the thread pool (verified and staged there). An object it
   * leaves (an error page, a mismatch, xattrs, a large file...) is fetched
   * again through undici, which retries and reports as always.
   */
  private pumpNative(target: NativeFetchTarget): void {
    const native = nativeSys();
    if (native === null) return;
    while (this.nativeWorkers < NATIVE_WORKERS && this.nativeWorkers < this.nativeQueue.length) {
      this.nativeWorkers++;
      this.scheduler.addContent(async () => {
        try {
          while (this.nativeQueue.length > 0) {
            const batch = this.nativeQueue.splice(0, NATIVE_BATCH);
            const got = await native.fetchObjects({
              host: target.host, port: target.port, hostHeader: target.hostHeader, basePath: target.basePath, extraHeaders: target.extraHeaders,
              checksums: batch, stagingDir: this.tx.stagingDir, archive: this.repo.isArchive, maxBody: SPILL_THRESHOLD, timeoutMs: target.timeoutMs,
            });
            const left: Promise<void>[] = [];
            batch.forEach((csum, k) => {
              const r = got[k];
              if (r === undefined || r.kind === 'none' || r.kind === 'status') {
                // No usable answer: undici asks again, with its retries and messages.
                this.scheduler.addContent(() => this.fetchContent(csum));
                return;
              }
              this.content.requests++;
              this.content.bytes += r.bytes;
              if (r.kind === 'staged') {
                this.tx.markStaged(csum, 'file');
                this.contentFetched++;
              } else {
                left.push(this.storeContent(csum, { body: r.body ?? null, file: r.file === undefined ? undefined : { path: r.file, size: r.bytes } }));
              }
            });
            await Promise.all(left);
            // Thousands of objects: their writeback and renames overlap the rest of the pull.
            if (this.tx.stagedCount >= FLUSH_EVERY) void this.tx.flushEarly();
            this.progress();
          }
        } finally {
          this.nativeWorkers--;
        }
      });
    }
  }

  /** A content object through undici: fetched, verified and staged (large ones through a file). */
  private async fetchContent(csum: Checksum): Promise<void> {
    const res = await this.content.fetchBytes(objectPath(csum, 'file'), {
      maxSize: MAX_CONTENT_SIZE, spill: { threshold: SPILL_THRESHOLD, path: () => join(this.tx.stagingDir, tmpName('fetch')) },
    });
    await this.storeContent(csum, res);
  }

  /** Verify and stage a fetched content object: its body, or the file it was spilled to. */
  private async storeContent(csum: Checksum, res: Pick<FetchResult, 'body' | 'file'>): Promise<void> {
    const url = this.content.urlOf(objectPath(csum, 'file'));
    if (res.file) {
      await this.storeSpilled(csum, res.file.path, url);
      this.contentFetched++;
      return;
    }
    const bytes = res.body ?? new Uint8Array(0);
    if (declaredSize(bytes) > SPILL_THRESHOLD) {
      // Small on the wire but large inflated (e.g. a sparse image): verify by streaming.
      const spill = join(this.tx.stagingDir, tmpName('fetch'));
      await writeFile(spill, bytes, { flag: 'wx', mode: 0o600 });
      await this.storeSpilled(csum, spill, url);
      this.contentFetched++;
      return;
    }
    if (!(await stageVerifiedArchiveContent(this.tx, csum, bytes, url))) {
      const { header, payload } = await verifyArchiveContent(csum, bytes, url);
      if (this.repo.isArchive) await this.tx.writeArchiveContentRaw(csum, bytes);
      else await this.tx.writeContentAs(csum, header, payload);
    }
    this.contentFetched++;
    if (this.contentFetched % 64 === 0) this.progress();
  }
}

/** A pull's content fetcher as native/fetch.c needs it (the host resolved to an address). */
interface NativeFetchTarget { host: string; port: number; hostHeader: string; basePath: string; extraHeaders: string; timeoutMs: number }

/** Native content fetch jobs at once, each holding a thread-pool thread and a connection (bench/pull.ts: 4 x 16 beat 2-3 x 8-64, and 6-8 with a larger pool). */
const NATIVE_WORKERS = 4;
/** Objects per native fetch job. */
const NATIVE_BATCH = 16;
/** Staged objects that make a pull sync them and move them into objects/ before its commit (Transaction.flushEarly; bench/pull.ts: 1,500 and 2,500 alike, 1,000 worse). */
const FLUSH_EVERY = 1500;

/**
 * The content URL as native/fetch.c can reach it: plain http to an address
 * (a name is looked up once, here); null to use undici for everything
 * (OTS_NO_NATIVE_FETCH=1, https, credentials, repo modes other than
 * bare-user and archive).
 */
async function nativeFetchTarget(fetcher: Fetcher, repo: Repo): Promise<NativeFetchTarget | null> {
  if (process.env.OTS_NO_NATIVE_FETCH === '1' || nativeSys() === null || (repo.mode !== 'bare-user' && repo.mode !== 'archive')) return null;
  const t = fetcher.nativeTarget();
  if (t === null) return null;
  let host = t.hostname;
  if (lazyRequire<typeof import('node:net')>('node:net').isIP(host) === 0) {
    try {
      host = (await lazyRequire<typeof import('node:dns/promises')>('node:dns/promises').lookup(host)).address;
    } catch {
      return null; // undici reports the lookup failure with its retries
    }
  }
  return { host, port: t.port, hostHeader: t.hostHeader, basePath: t.basePath, extraHeaders: t.extraHeaders, timeoutMs: t.timeoutMs };
}

/**
 * A response served in the same second its file was modified. Static servers'
 * ETags (nginx: mtime in seconds + size) cannot tell it from a rewrite later in
 * that second with the same size — a summary updated right after a pull, say —
 * so a later If-None-Match could get a 304 for a stale copy: such a summary is
 * not cached. (Seen as a test that pulled an update and got nothing.)
 */
function racy(lastModified: string | undefined, date: string | undefined): boolean {
  if (lastModified === undefined || date === undefined) return false;
  const lm = Date.parse(lastModified);
  const d = Date.parse(date);
  return Number.isNaN(lm) || Number.isNaN(d) || d - lm < 1000;
}

/** Content objects above this size stream through a file instead of memory. */
const SPILL_THRESHOLD = 8 * 1024 * 1024;

/** The uncompressed size a .filez declares, or 0 when its header is unreadable (verification reports that). */
function declaredSize(bytes: Uint8Array): number {
  try {
    return Number(decodeArchiveHeader(bytes).size ?? 0n);
  } catch {
    return 0;
  }
}

function objectPath(csum: Checksum, type: 'commit' | 'commitmeta' | 'dirtree' | 'dirmeta' | 'file'): string {
  return `objects/${csum.slice(0, 2)}/${csum.slice(2)}.${type === 'file' ? 'filez' : type}`;
}

function checkRefBinding(csum: Checksum, commit: Commit, ref: string): void {
  const binding = vardictGet(commit.metadata, 'ostree.ref-binding');
  if (binding === undefined || binding.type !== 'as') return;
  const refs = binding.value as string[];
  if (!refs.includes(ref)) {
    throw new OtError('ERR_FORBIDDEN', `Commit ${csum}: Commit has no requested ref '${ref}' in ref binding metadata ('${refs.join("', '")}')`, {
      checksum: csum, hint: 'the server published this commit under a ref it was not made for',
    });
  }
}


