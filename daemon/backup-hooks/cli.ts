import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { errorMessage } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import { loadVzdumpHookConfig, VZDUMP_HOOK_CONFIG } from './hook-config.js';
import { PvepatchHttpsApi } from './https-client.js';
import { type PbsPlusDeps, pbsPlusPost, pbsPlusPre } from './pbsplus.js';
import { loadPbsPlusConfig, PBSPLUS_CONFIG } from './pbsplus-config.js';
import { patchingOverSocket } from './socket-query.js';
import { HOOK_EXIT, runProgram, vzdumpHook } from './vzdump.js';

export interface BackupHookCommandDeps {
  io: { out: (text: string) => void; err: (text: string) => void };
  setExit: (code: number) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The commands behind the hook scripts in hooks/ (hidden from help: vzdump and PBS Plus call
 * them, not people): `vzdump-hook <phase> [<mode> <vmid>]`, `pbsplus-pre <envfile>`,
 * `pbsplus-post <envfile>`.
 */
export function addBackupHookCommands(program: Command, deps: BackupHookCommandDeps): void {
  program
    .command('vzdump-hook', { hidden: true })
    .description('vzdump hook: skip the backup of a guest that is being patched, then run the chained hook')
    .option('--hook-config <path>', 'the hook settings', VZDUMP_HOOK_CONFIG)
    .option('--self <path>', "the wrapper's own path, so a chain to itself is refused")
    .argument('[args...]', 'what vzdump passes: <phase> [<mode> <vmid>]')
    .action(async (args: string[], o: { hookConfig: string; self?: string }, cmd: Command) => {
      const global = cmd.optsWithGlobals<{ config?: string }>().config;
      let config: ReturnType<typeof loadVzdumpHookConfig>;
      try {
        config = loadVzdumpHookConfig(o.hookConfig);
      } catch (err) {
        // the chained hook cannot be known: fail loudly, as vzdump does for a broken hook script
        deps.io.out(`pvepatch: ${escapeControls(errorMessage(err))} - fix or remove it`);
        deps.setExit(HOOK_EXIT.broken);
        return;
      }
      const code = await vzdumpHook(args, {
        config,
        configPath: o.hookConfig,
        socket: () => loadConfig(global ? { path: global } : {}).socket,
        ask: (socket, vmid) => patchingOverSocket(socket, vmid),
        ...(o.self ? { self: o.self } : {}),
        env: process.env,
        out: deps.io.out,
        sleep,
        now: Date.now,
        runChain: (path, argv) => runProgram(path, argv, deps.io.out),
      });
      deps.setExit(code);
    });
  for (const [name, run] of [
    ['pbsplus-pre', pbsPlusPre],
    ['pbsplus-post', pbsPlusPost],
  ] as const) {
    program
      .command(name, { hidden: true })
      .description(`PBS Plus ${name === 'pbsplus-pre' ? 'PreScript' : 'PostScript'}`)
      .option('--hook-config <path>', 'the PBS Plus hook settings', PBSPLUS_CONFIG)
      .argument('[envfile]', 'the file PBS Plus reads overrides from')
      .action(async (envFile: string | undefined, o: { hookConfig: string }) => {
        const d: PbsPlusDeps = {
          env: process.env,
          configPath: o.hookConfig,
          loadConfig: () => loadPbsPlusConfig(o.hookConfig),
          api: (cfg) => new PvepatchHttpsApi(cfg),
          out: deps.io.out,
          err: deps.io.err,
          now: () => new Date(),
        };
        deps.setExit(await run(envFile, d));
      });
  }
}
