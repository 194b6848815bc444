import { rpmDriver } from '../rpm-common/driver.js';
import { dnfTool } from './tool.js';

/** Fedora and the RHEL family from EL8 on: dnf 4 and rpm (see readme.md). */
export const dnfDriver = rpmDriver(dnfTool, {
  osIds: ['fedora', 'rhel', 'centos', 'rocky', 'almalinux', 'ol', 'amzn'],
  ostypes: ['fedora', 'centos'],
  binary: '/usr/bin/dnf',
});
