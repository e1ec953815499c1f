export * from './constants.js';
export * from './crd.js';
export * from './crd-tenancy.js';
export * from './issues.js';
export * from './reference.js';
export * from './schema.js';
export * from './tenancy.js';
export { KNOWN_TOOLS, type KnownTool } from './tools.js';
