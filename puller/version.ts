// The ots version (kept equal to package.json's by test/unit/layering).
export const VERSION = '0.1.0';
