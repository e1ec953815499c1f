/** Bearer-token authentication: the implementation lives in ./auth/ (one concern per file). */
export * from './auth/index.js';
