export { KNOWN_TOOLS, type KnownTool } from '../../policy/tools.js';
export * from './constants.js';
export * from './crd.js';
export * from './issues.js';
export * from './reference.js';
export * from './schema.js';
