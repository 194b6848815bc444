import { PvepatchError } from './errors.js';

/**
 * Package names as every supported family spells them (Debian: [a-z0-9][a-z0-9+.-]+; rpm, pacman
 * and apk add upper case, '_' and '@'). Anything else — spaces, ';', '$', quotes, '/' — is refused,
 * so a name can never be read as an option or by a shell.
 */
const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9+._@-]{0,127}$/;

export function isValidPackageName(name: string): boolean {
  return PACKAGE_NAME.test(name);
}

/** A package version as the families spell them (Debian epoch:upstream-revision, rpm EVR, apk -rN). */
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+~:_-]{0,127}$/;

export function assertVersion(version: string): string {
  if (!VERSION.test(version))
    throw new PvepatchError(
      'input-invalid',
      `invalid package version '${version}' - letters, digits and . + ~ : _ - only`,
    );
  return version;
}

export function assertPackageNames(names: readonly string[]): string[] {
  for (const name of names) {
    if (!isValidPackageName(name)) {
      throw new PvepatchError(
        'input-invalid',
        `invalid package name '${name}' - use letters, digits and + . _ @ - only, starting with a letter or digit`,
      );
    }
  }
  return [...names];
}
