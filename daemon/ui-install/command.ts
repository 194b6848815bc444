import { type Command, Option } from 'commander';
import { loadConfig } from '../config/load.js';
import { isPvepatchError, PvepatchError } from '../core/errors.js';
import { VERSION } from '../version.js';
import { DEFAULT_TEMPLATE, installUi, removeUi, statusText, type UiPaths, uiPaths, uiStatus } from './files.js';

export interface UiCommandDeps {
  out: (line: string) => void;
  err: (line: string) => void;
  print: (data: unknown, text: () => string) => void;
  /** The global `--config`, if given. */
  config: () => string | undefined;
}

interface PathOptions {
  template?: string;
  jsDir?: string;
}

/**
 * `pvepatch ui install|remove|status`: the `<script>` line of the Patching panel in the Proxmox VE
 * web UI's index.html.tpl, by hand (the package runs install and remove itself). Hidden options
 * `--template` and `--js-dir` (or PVEPATCH_UI_TEMPLATE, PVEPATCH_UI_JS_DIR) point elsewhere, for tests.
 */
export function addUiCommand(program: Command, deps: UiCommandDeps): void {
  const ui = program
    .command('ui')
    .description(
      "the Patching panel in the Proxmox VE web UI: 'ui install|remove|status' of its <script> line in index.html.tpl (the package installs and removes it itself)",
    );
  const withPaths = (cmd: Command) =>
    cmd
      .addOption(new Option('--template <path>', 'the index.html.tpl to edit').hideHelp())
      .addOption(new Option('--js-dir <dir>', 'where pvepatch-ui.js is').hideHelp());
  const port = () => {
    const path = deps.config();
    try {
      return loadConfig(path ? { path } : {}).api_port;
    } catch (err) {
      if (isPvepatchError(err)) throw err;
      throw new PvepatchError(
        'config-invalid',
        `unable to read the config file for api_port - ${(err as Error).message}; run it as root`,
      );
    }
  };

  withPaths(ui.command('install'))
    .description("add (or update) the panel's <script> line after the pvemanagerlib.js line; run as root; idempotent")
    .action((o: PathOptions) => {
      const paths = writablePaths(o, 'install');
      const apiPort = port();
      const res = installUi(paths, VERSION, apiPort);
      for (const line of res.messages) deps.out(line);
      if (res.warning) deps.err(`warning: ${res.warning}`);
      if (apiPort === 0 && res.action !== 'no-template' && res.action !== 'no-anchor')
        deps.err(
          "note: api_port is 0 (the HTTPS API is off), so the panel cannot reach pvepatchd - set api_port, restart pvepatchd, then run 'pvepatch ui install' again",
        );
    });
  withPaths(ui.command('remove'))
    .description("take the panel's <script> line out of index.html.tpl again; run as root")
    .action((o: PathOptions) => {
      for (const line of removeUi(writablePaths(o, 'remove')).messages) deps.out(line);
    });
  withPaths(ui.command('status'))
    .description('whether the script line is in index.html.tpl, for this version and port, and the panel file exists')
    .action((o: PathOptions) => {
      const paths = uiPaths(o);
      const s = uiStatus(paths, VERSION, port());
      deps.print(s, () => statusText(s));
    });
}

/** pve-manager's own template is root's: say so up front rather than fail half-way. */
function writablePaths(o: PathOptions, verb: string): UiPaths {
  const paths = uiPaths(o);
  if (paths.template === DEFAULT_TEMPLATE && process.getuid?.() !== 0) {
    throw new PvepatchError(
      'forbidden',
      `unable to edit ${DEFAULT_TEMPLATE} - only root may; run 'sudo pvepatch ui ${verb}' (or as root)`,
    );
  }
  return paths;
}
