// Signing and verification: public surface.
export * from './ed25519.js';
export * from './gpg.js';
export * from './signatures.js';
