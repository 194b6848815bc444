export * from './audit-log.js';
export * from './middleware.js';
