// Static-delta formats: public surface.
export * from './bspatch.js';
export * from './execute.js';
export * from './part.js';
export * from './superblock.js';
export * from './varint.js';
export * from './compression.js';
