import { KubeConfig } from '@kubernetes/client-node';

/**
 * Loads a KubeConfig: from `path` when given, otherwise client-node's default order (in-cluster
 * ServiceAccount when running in a pod, else $KUBECONFIG, else ~/.kube/config). `context` selects a
 * context other than the current one. Throws an Error naming the file when it cannot be used.
 */
export function loadKubeConfig(path?: string, context?: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (err) {
    throw new Error(
      `cannot load kubeconfig${path ? ` ${path}` : ''}: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
  if (context) {
    if (!kc.getContextObject(context)) {
      throw new Error(`kubeconfig${path ? ` ${path}` : ''} has no context ${JSON.stringify(context)}`);
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) {
    throw new Error(`kubeconfig${path ? ` ${path}` : ''} names no cluster for its current context`);
  }
  return kc;
}
