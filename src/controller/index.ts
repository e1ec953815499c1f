/** The McpPolicy controller: watches, the serialized work queue, the published index, leader election. */

export { type Clock, realClock } from './clock.js';
export {
  DEFAULT_FIELD_MANAGER,
  INDEX_KEY,
  MCP_DELEGATIONS_PATH,
  MCP_NAMESPACE_POLICIES_PATH,
  MCP_POLICIES_PATH,
  type McpPolicyObject,
  namespacePoliciesPath,
  PolicyController,
  type PolicyControllerOptions,
} from './controller.js';
export { LeaderElector, type LeaderElectorOptions, type LeadershipListener } from './leader.js';
export { KubeLeaseClient, type LeaseClient, LeaseConflictError, type LeaseRecord } from './lease.js';
export { ScaleLeaseSweeper, type ScaleLeaseSweeperOptions } from './leasesweep.js';
export { WorkQueue, type WorkQueueOptions } from './queue.js';
export {
  desiredStatus,
  kubeTime,
  readStatus,
  readyCondition,
  stateEqual,
  statusEqual,
  type ValidityEvent,
  validityEvent,
} from './status.js';
export { type IndexListener, PolicyStore } from './store.js';
