// OSTree object model: public surface.
export * from './bswap.js';
export * from './checksum.js';
export * from './commit.js';
export * from './content.js';
export * from './dirmeta.js';
export * from './dirtree.js';
export * from './filename.js';
export * from './loose-path.js';
export * from './object-type.js';
export * from './xattrs.js';
export * from './delta-name.js';
