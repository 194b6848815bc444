/** What `pvepatch setup` creates, by name (one place: setup, remove, messages and tests use these). */
export const PVE_ROLE = 'PVEPatch';
export const PVE_USER = 'pvepatch@pve';
export const PBS_USER = 'pvepatch@pbs';
export const TOKEN_NAME = 'pvepatchd';
export const COMMENT = 'API user of pvepatchd, made by pvepatch setup';

export const pveTokenId = `${PVE_USER}!${TOKEN_NAME}`;
export const pbsTokenId = `${PBS_USER}!${TOKEN_NAME}`;

export const DEFAULT_PBS_TOKEN_FILE = '/etc/pvepatch/pbs-token';
