import { rpmDriver } from '../rpm-common/driver.js';
import { yumTool } from './tool.js';

/**
 * RHEL/CentOS 7 and older: yum 3.4.3 and rpm. It serves the same IDs as dnf and is registered
 * after it: detection picks it when the guest has no /usr/bin/dnf.
 */
export const yumDriver = rpmDriver(yumTool, {
  osIds: ['fedora', 'rhel', 'centos', 'rocky', 'almalinux', 'ol', 'amzn'],
  ostypes: ['centos', 'fedora'],
  binary: '/usr/bin/yum',
});
