/**
 * The template of an API path, for span names and attributes: namespace and object names replaced
 * by placeholders (`/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale`), the resource
 * (`deployments/scale`) and the namespace named in the path, if any.
 */
export function kubePathTemplate(path: string): { template: string; resource: string; namespace?: string } {
  const parts =
    path
      .split('?')[0]
      ?.split('/')
      .filter((p) => p !== '') ?? [];
  // /api/v1/... or /apis/<group>/<version>/...
  const prefixLength = parts[0] === 'api' ? 2 : parts[0] === 'apis' ? 3 : 0;
  if (prefixLength === 0 || parts.length <= prefixLength) return { template: path, resource: path };
  const out = parts.slice(0, prefixLength);
  let rest = parts.slice(prefixLength);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 2) {
    namespace = rest[1];
    out.push('namespaces', '{namespace}');
    rest = rest.slice(2);
  }
  const [resource = '', name, ...sub] = rest;
  out.push(resource);
  if (name !== undefined) out.push('{name}', ...sub);
  const label = sub.length > 0 ? `${resource}/${sub.join('/')}` : resource;
  return {
    template: `/${out.join('/')}`,
    resource: label,
    ...(namespace === undefined ? {} : { namespace }),
  };
}
