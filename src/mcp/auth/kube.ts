/**
 * The authenticator's two calls to the API server, with the operator's own credentials: the
 * TokenReview, and the ServiceAccount issuer discovery documents.
 */

import type { V1TokenReview } from '@kubernetes/client-node';
import { KubeApiError, type KubeClient, KubeTimeoutError } from '../../kube/client.js';
import type { DiscoveryFn } from './keys.js';
import type { ReviewResult, TokenReviewFn } from './types.js';

/** A caller waits on this: a hung API server must not hold requests forever. */
const TOKEN_REVIEW_TIMEOUT_MS = 10_000;
const DISCOVERY_TIMEOUT_MS = 5_000;

export const OPENID_CONFIGURATION_PATH = '/.well-known/openid-configuration';
export const JWKS_PATH = '/openid/v1/jwks';

/**
 * The production TokenReviewFn: POST a TokenReview. Errors are re-thrown without the response body
 * (the API server echoes the token in a TokenReview).
 */
export function kubeTokenReview(client: KubeClient): TokenReviewFn {
  return async (token, audiences, trace) => {
    const review = () =>
      client.request<V1TokenReview>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        timeoutMs: TOKEN_REVIEW_TIMEOUT_MS,
        trace,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, audiences: [...audiences] },
        },
      });
    let status: V1TokenReview['status'];
    try {
      let res: V1TokenReview | undefined;
      try {
        res = await review();
      } catch (err) {
        // The connection broke (a keep-alive connection a proxy or the network cut, a reset): a
        // TokenReview changes nothing, so it is asked once more, on another connection, rather than
        // answering the caller 503. An answer (an HTTP status) or a timeout is not retried.
        if (err instanceof KubeApiError || err instanceof KubeTimeoutError) throw err;
        res = await review();
      }
      status = res?.status;
    } catch (err) {
      const code = err instanceof KubeApiError ? ` (HTTP ${err.statusCode})` : '';
      throw new Error(`TokenReview request failed${code}`);
    }
    return resultOf(status);
  };
}

function resultOf(status: V1TokenReview['status']): ReviewResult {
  const username = status?.user?.username;
  return {
    authenticated: status?.authenticated === true,
    ...(username === undefined
      ? {}
      : {
          user: {
            username,
            groups: status?.user?.groups ?? [],
            ...(status?.user?.uid === undefined ? {} : { uid: status.user.uid }),
            ...(status?.user?.extra === undefined ? {} : { extra: status.user.extra }),
          },
        }),
    ...(status?.audiences === undefined ? {} : { audiences: status.audiences }),
    ...(status?.error === undefined ? {} : { error: status.error }),
  };
}

/**
 * The production DiscoveryFn: GET the issuer's OpenID configuration and JWKS from the API server
 * (the non-resource URLs of the ClusterRole system:service-account-issuer-discovery, which Kubernetes
 * binds to every ServiceAccount by default). Throws an Error naming the URL and the HTTP status.
 */
export function kubeIssuerDiscovery(client: KubeClient): DiscoveryFn {
  const get = async (path: string, accept: string): Promise<unknown> => {
    try {
      return await client.request<unknown>('GET', path, { timeoutMs: DISCOVERY_TIMEOUT_MS, accept });
    } catch (err) {
      if (err instanceof KubeApiError) {
        throw new Error(`GET ${path}: HTTP ${err.statusCode}${err.reason ? ` (${err.reason})` : ''}`);
      }
      const why = err instanceof Error ? (err.message.split('\n')[0] ?? '').slice(0, 200) : 'unknown error';
      throw new Error(`GET ${path}: ${why}`);
    }
  };
  return async () => ({
    configuration: await get(OPENID_CONFIGURATION_PATH, 'application/json'),
    // The API server answers 406 to anything else.
    jwks: await get(JWKS_PATH, 'application/jwk-set+json'),
  });
}
