/** Kubernetes plumbing: kubeconfig, resilient watch caches, the ClusterBackend, Events, manifests. */

export { CACHED_KINDS, KubeBackend, type KubeBackendOptions } from './backend.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export {
  type ApiStatus,
  type HttpMethod,
  KubeApiError,
  KubeClient,
  type KubeClientOptions,
  KubeTimeoutError,
  MERGE_PATCH,
  type RequestOptions,
  type WatchEvent,
} from './client.js';
export {
  CONFIRMATION_KEY_BYTES,
  CONFIRMATION_KEY_DATA,
  ConfirmationKeyError,
  keyOfSecret,
  loadOrCreateConfirmationKey,
  SharedConfirmationKey,
  type SharedConfirmationKeyOptions,
} from './confirmationkey.js';
export type { CredentialSet, Credentials, KubeConnection } from './connection.js';
export { apiMessage, codeForStatus, httpStatus, toBackendError } from './errors.js';
export {
  CLUSTER_SCOPED_EVENT_NAMESPACE,
  EventRecorder,
  type EventSpec,
  type EventTarget,
  REPORTING_CONTROLLER,
} from './events.js';
export {
  type InformerEvent,
  type InformerOptions,
  type ObjectHandler,
  ResilientInformer,
} from './informer.js';
export { loadKubeConfig, loadKubeConfigFiles } from './kubeconfig.js';
export { microTime, parseMicroTime } from './microtime.js';
export { LAST_APPLIED_ANNOTATION, trimMetadata, trimPod, trimPodSpec, trimWorkload } from './trim.js';
export * from './types.js';
