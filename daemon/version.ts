/** Replaced at bundle time by the package version. */
export const VERSION: string = typeof __PVEPATCH_VERSION__ === 'string' ? __PVEPATCH_VERSION__ : '0.1.0-dev';
declare const __PVEPATCH_VERSION__: string | undefined;
