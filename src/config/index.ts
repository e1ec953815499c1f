/** Configuration: one schema with every default, one loader (flags > KUBEMCP_* env > defaults). */

export {
  ConfigError,
  type Env,
  type FlagValues,
  type LoadConfigOptions,
  loadConfig,
  resolveKubeconfigPath,
  SERVICE_ACCOUNT_NAMESPACE_FILE,
  serveFlagHelp,
  serveFlagOptions,
} from './load.js';
export {
  DEFAULT_SERVICE_NAME,
  loadTracingConfig,
  type OtlpProtocol,
  type SamplerName,
  type TracingConfig,
  tracingEnabled,
} from './tracing.js';
export {
  type Config,
  type ConfigInput,
  ConfigSchema,
  DEFAULT_CONFIRMATION_KEY_SECRET,
  LOG_LEVELS,
  type LeaderElectionConfig,
  LeaderElectionConfigSchema,
  type LogLevel,
  OPTIONS,
  type OptionSpec,
  type OptionType,
} from './schema.js';
