// Summary format: public surface.
export * from './summary.js';
