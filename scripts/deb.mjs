// Builds the Debian package from the bundle (`npm run deb` runs `npm run build` first) and keeps
// debian/copyright in step with what the bundle contains.
//
//   node scripts/deb.mjs [--version <upstream>-<revision>] [--out <dir>]   build dist/pvepatch_<ver>_all.deb
//   node scripts/deb.mjs --check-copyright                                 exit 1 if debian/copyright is stale
//   node scripts/deb.mjs --write-copyright                                 regenerate debian/copyright
//
// Versions: the package's version is package.json's version plus a Debian revision, as the top entry
// of debian/changelog says (0.1.0-1). A release bumps package.json and adds a changelog entry
// <version>-1; a packaging-only change adds <same version>-<revision + 1>. --version builds another
// revision without editing the tree (a changelog entry is added in the build copy only); its upstream
// part must still be package.json's, since that is what `pvepatch --version` prints.
//
// dpkg-buildpackage runs in a temporary copy of only the files the package needs, so the tree gets no
// build droppings (debian/pvepatch/, debian/.debhelper/, debian/files, *.substvars).
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const BUNDLE = 'dist/pvepatch.mjs';
/** The web UI panel (scripts/build-ui.mjs, part of `npm run build`). */
const UI = 'dist/ui/pvepatch-ui.js';
/** What the package is built from (debian/rules and pvepatch.install name nothing else). */
const SOURCES = [
  'debian',
  BUNDLE,
  `${BUNDLE}.map`,
  `${BUNDLE}.LEGAL.txt`,
  'dist/ui',
  'systemd',
  'templates',
  'hooks',
  'README.md',
];

function fail(message) {
  console.error(`deb: ${message}`);
  process.exit(1);
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** The top entry of debian/changelog: its version and maintainer line. */
function changelogTop() {
  const text = readFileSync(join(ROOT, 'debian/changelog'), 'utf8');
  const version = /^pvepatch \(([^)]+)\)/.exec(text)?.[1];
  const maintainer = /^ -- (.+?>)/m.exec(text)?.[1];
  if (!version || !maintainer) fail('unable to read debian/changelog - no top entry');
  return { text, version, maintainer };
}

function build(args) {
  const upstream = readJson(join(ROOT, 'package.json')).version;
  const top = changelogTop();
  const version = args.version ?? top.version;
  if (!/^[0-9][A-Za-z0-9.+~]*-[A-Za-z0-9.+~]+$/.test(version) || !version.startsWith(`${upstream}-`)) {
    fail(`version '${version}' is not <package.json version ${upstream}>-<revision>; add a debian/changelog entry`);
  }
  for (const f of [BUNDLE, `${BUNDLE}.map`, `${BUNDLE}.LEGAL.txt`, UI]) {
    if (!existsSync(join(ROOT, f))) fail(`${f} is missing - run 'npm run build' first ('npm run deb' does both)`);
  }
  const outDir = resolve(args.out ?? join(ROOT, 'dist'));
  const tmp = mkdtempSync(join(tmpdir(), 'pvepatch-deb-'));
  try {
    const src = join(tmp, `pvepatch-${upstream}`);
    for (const rel of SOURCES) cpSync(join(ROOT, rel), join(src, rel), { recursive: true });
    if (version !== top.version) {
      const date = new Date().toUTCString().replace('GMT', '+0000');
      const entry = `pvepatch (${version}) bookworm; urgency=medium\n\n  * Build of revision ${version}.\n\n -- ${top.maintainer}  ${date}\n\n`;
      writeFileSync(join(src, 'debian/changelog'), entry + top.text);
    }
    const res = spawnSync('dpkg-buildpackage', ['-us', '-uc', '-b'], {
      cwd: src,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (res.error) fail(`unable to run dpkg-buildpackage - ${res.error.message} (apt install dpkg-dev debhelper)`);
    if (res.status !== 0) fail(`dpkg-buildpackage failed with exit code ${res.status}`);
    const deb = `pvepatch_${version}_all.deb`;
    mkdirSync(outDir, { recursive: true });
    renameSync(join(tmp, deb), join(outDir, deb));
    console.log(join(outDir, deb));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---- debian/copyright ---------------------------------------------------------------------------

/** SPDX (package.json) -> DEP-5 short names; a license not here fails the check until it is added. */
const DEP5_NAME = {
  MIT: 'Expat',
  'MIT-0': 'MIT-0',
  ISC: 'ISC',
  'BSD-3-Clause': 'BSD-3-clause',
  'GPL-3.0': 'GPL-3',
  Unlicense: 'Unlicense',
};

/** The npm packages in the bundle, from its source map: their directories under node_modules. */
export function bundledPackages() {
  const map = readJson(join(ROOT, `${BUNDLE}.map`));
  const dirs = new Set();
  for (const source of map.sources) {
    const at = source.indexOf('node_modules/');
    if (at < 0) continue;
    const parts = source.slice(at).split('/');
    // node_modules/<name> or node_modules/@scope/<name>, repeated for nested installs
    let end = 0;
    for (let i = 0; i < parts.length; i++)
      if (parts[i] === 'node_modules') end = i + (parts[i + 1]?.startsWith('@') ? 3 : 2);
    dirs.add(parts.slice(0, end).join('/'));
  }
  return [...dirs].sort();
}

function licenseOf(pkg) {
  const spdx = typeof pkg.license === 'string' ? pkg.license : pkg.licenses?.[0]?.type;
  const name = DEP5_NAME[spdx];
  if (!name) fail(`${pkg.name}: license '${spdx}' has no DEP-5 name in scripts/deb.mjs DEP5_NAME`);
  return name;
}

function authorOf(pkg) {
  return typeof pkg.author === 'string' ? pkg.author : (pkg.author?.name ?? `${pkg.name} authors`);
}

/** The copyright lines of a package's licence file; its author when the file has none. */
function copyrightsOf(dir, pkg) {
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  const text = file ? readFileSync(join(dir, file), 'utf8') : '';
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^copyright\s+(\(c\)|©|\d)/i.test(l) || /^Copyright [A-Z]/.test(l))
    // the GNU licences' own notice and their "how to apply" template are not the package's
    .filter((l) => !/Free Software Foundation|<name of author>/.test(l));
  return lines.length > 0 ? [...new Set(lines)] : [authorOf(pkg)];
}

function field(name, lines) {
  return `${name}: ${lines[0]}${lines
    .slice(1)
    .map((l) => `\n ${l}`)
    .join('')}`;
}

/** A licence text as a DEP-5 continuation: indented, blank lines as " .". */
function body(text) {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l.trimEnd()}`))
    .join('\n');
}

export function copyrightText() {
  const paragraphs = [
    [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      'Upstream-Name: pvepatch',
      'Comment: dist/pvepatch.mjs bundles the npm packages listed below (their sources are under',
      ' node_modules/ after "npm ci"; their licence comments are in /usr/share/doc/pvepatch/pvepatch.mjs.LEGAL.txt.gz).',
      ' The paragraphs for them are generated by "node scripts/deb.mjs --write-copyright".',
    ].join('\n'),
    'Files: *\nCopyright: pvepatch developers <pvepatch@example.org>\nLicense: AGPL-3+',
  ];
  const used = new Set(['AGPL-3+']);
  for (const dir of bundledPackages()) {
    const pkg = readJson(join(ROOT, dir, 'package.json'));
    const license = licenseOf(pkg);
    used.add(license);
    paragraphs.push(
      [`Files: ${dir}/*`, field('Copyright', copyrightsOf(join(ROOT, dir), pkg)), `License: ${license}`].join('\n'),
    );
  }
  for (const name of [...used].sort()) paragraphs.push(`License: ${name}\n${body(LICENSE_TEXT[name]())}`);
  return `${paragraphs.join('\n\n')}\n`;
}

const LICENSE_TEXT = {
  'AGPL-3+': () =>
    [
      'This program is free software: you can redistribute it and/or modify it under the terms of',
      'the GNU Affero General Public License as published by the Free Software Foundation, either',
      'version 3 of the License, or (at your option) any later version.',
      '',
      readFileSync(join(ROOT, 'LICENSE'), 'utf8'),
    ].join('\n'),
  Expat: () => `Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.`,
  'MIT-0': () => `Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.`,
  ISC: () => `Permission to use, copy, modify, and/or distribute this software for any purpose with or without
fee is hereby granted, provided that the above copyright notice and this permission notice appear
in all copies.

THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES WITH REGARD TO THIS
SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE
AUTHOR BE LIABLE FOR ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE
OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS
SOFTWARE.`,
  'BSD-3-clause': () => `Redistribution and use in source and binary forms, with or without modification, are permitted
provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this list of conditions
   and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice, this list of
   conditions and the following disclaimer in the documentation and/or other materials provided
   with the distribution.
3. Neither the name of the copyright holder nor the names of its contributors may be used to
   endorse or promote products derived from this software without specific prior written
   permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR
IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND
FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR
CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE,
DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER
IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF
THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.`,
  'GPL-3': () => `This program is free software: you can redistribute it and/or modify it under the terms of the
GNU General Public License as published by the Free Software Foundation, version 3.

On Debian systems, the complete text of the GNU General Public License version 3 can be found in
"/usr/share/common-licenses/GPL-3".`,
  Unlicense: () => `This is free and unencumbered software released into the public domain.

Anyone is free to copy, modify, publish, use, compile, sell, or distribute this software, either in
source code form or as a compiled binary, for any purpose, commercial or non-commercial, and by any
means.

In jurisdictions that recognize copyright laws, the author or authors of this software dedicate any
and all copyright interest in the software to the public domain. We make this dedication for the
benefit of the public at large and to the detriment of our heirs and successors. We intend this
dedication to be an overt act of relinquishment in perpetuity of all present and future rights to
this software under copyright law.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY,
WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

For more information, please refer to <https://unlicense.org/>`,
};

function copyright(mode) {
  const path = join(ROOT, 'debian/copyright');
  const want = copyrightText();
  if (mode === 'write') {
    writeFileSync(path, want);
    return;
  }
  const have = existsSync(path) ? readFileSync(path, 'utf8') : '';
  if (have !== want) fail('debian/copyright does not match the bundle - run: node scripts/deb.mjs --write-copyright');
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--version' || a === '--out') args[a.slice(2)] = argv[++i] ?? fail(`${a} needs a value`);
    else if (a === '--check-copyright' || a === '--write-copyright') args.copyright = a.slice(2, -'-copyright'.length);
    else fail(`unknown argument '${a}'`);
  }
  return args;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const args = parseArgs(process.argv.slice(2));
  if (args.copyright) copyright(args.copyright);
  else build(args);
}
