// Repository storage: public surface.
export * from './atomic-fs.js';
export * from './checkout.js';
export * from './commit-metadata.js';
export * from './fsck.js';
export * from './keyfile.js';
export * from './limiter.js';
export * from './mtree.js';
export * from './refs.js';
export * from './repo.js';
export * from './repo-mode.js';
export * from './summary-file.js';
export * from './transaction.js';
export * from './tree-from-dir.js';
export * from './tree-from-tar.js';
export * from './large-content.js';
export * from './deflate.js';
export * from './tree-path.js';
