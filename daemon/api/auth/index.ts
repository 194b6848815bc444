export {
  type Credential,
  credentialsOf,
  extractAuthValue,
  forwardHeaders,
  parseTicket,
  parseToken,
} from './credentials.js';
export { CsrfVerifier, computeCsrfToken, csrfSecret } from './csrf.js';
export { AuthError, type AuthErrorCode } from './errors.js';
export { type AuthenticateOptions, authCallerOf, authenticate, requireRoot, sendAuthError } from './middleware.js';
export { credentialKey, type PermissionSource, PveProxyPermissionSource } from './permission-source.js';
export {
  type AuthAction,
  type AuthCaller,
  agentExecPrivs,
  checkGuests,
  type GuestRef,
  guestRequirements,
  hasPriv,
  type PermMap,
  type Refusal,
  refusals,
  rootRefusal,
} from './privileges.js';
export { FailureLimiter } from './rate-limit.js';
