/** Kubernetes plumbing: kubeconfig, resilient watch caches, the ClusterBackend, Events, manifests. */

export { applyManifestFile, waitForCrdEstablished } from './apply.js';
export { CACHED_KINDS, KubeBackend, type KubeBackendOptions } from './backend.js';
export { Backoff, type BackoffOptions } from './backoff.js';
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
export { loadKubeConfig } from './kubeconfig.js';
export { LAST_APPLIED_ANNOTATION, trimMetadata, trimPod, trimPodSpec, trimWorkload } from './trim.js';
export * from './types.js';
