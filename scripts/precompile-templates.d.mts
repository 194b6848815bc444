// Types for scripts/precompile-templates.mjs (imported by test/notify/templates.test.ts).
export declare const TEMPLATE_DIR: string;
export declare const OUT_JS: string;
export declare const OUT_DTS: string;
/** Precompiles one template source; throws with the file name on anything not allowed. */
export declare function precompileOne(file: string, source: string): string;
/** Reads every template in `dir` and returns the generated module and its declarations. */
export declare function precompileTemplates(dir?: string): { js: string; dts: string };
/** Writes templates.gen.js and .d.ts (scripts/build.mjs runs this before bundling). */
export declare function writeGeneratedTemplates(): void;
