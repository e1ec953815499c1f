/** What a kubeconfig (or the in-cluster ServiceAccount) resolves to: the connection the client uses. */

/** Credentials for one request. */
export interface CredentialSet {
  readonly token?: string;
  /** PEM client certificate and key (exec plugins may hand these out). */
  readonly cert?: string;
  readonly key?: string;
}

export interface Credentials {
  get(): Promise<CredentialSet>;
  /** Drops a cached credential after a 401; true when fetching a new one may help. */
  refresh(): boolean;
}

export interface TlsSettings {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly insecureSkipTLSVerify?: boolean;
  readonly serverName?: string;
}

/** The identity a kubeconfig user asks to act as (Impersonate-* headers). */
export interface Impersonation {
  readonly user: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** A resolved connection: one API server, its TLS settings and the credentials to present. */
export interface KubeConnection {
  readonly server: string;
  readonly tls: TlsSettings;
  readonly credentials: Credentials;
  /** Act as this identity (the credentials' owner must be allowed to impersonate it). */
  readonly impersonate?: Impersonation;
  /** The context's namespace, `default` when it sets none (in-cluster: the pod's). */
  readonly namespace?: string;
  /** The kubeconfig context used; undefined in-cluster. */
  readonly context?: string;
  /** Where this came from, for logs: a file path or `in-cluster`. */
  readonly source: string;
}
