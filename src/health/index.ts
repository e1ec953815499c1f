/** Probes and metrics of the operator: the :8081 server and the controller-side Prometheus metrics. */

export { type OperatorMetrics, operatorMetrics } from './metrics.js';
export {
  createHealthHandler,
  type HealthServer,
  type HealthServerOptions,
  type ReadinessCheck,
  startHealthServer,
} from './server.js';
