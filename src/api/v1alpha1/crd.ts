/**
 * The McpPolicy CustomResourceDefinition, derived from the zod schema (schema.ts). Pure: returns
 * objects and strings; `npm run manifests` (scripts/manifests.ts) writes them to crds/.
 */

import { z } from 'zod';
import { yaml } from '../../util/yaml.js';
import {
  API_VERSION,
  CATEGORIES,
  CONDITION_READY,
  CONDITION_WARNINGS,
  CRD_NAME,
  GROUP,
  KIND,
  LIST_KIND,
  PLURAL,
  SHORT_NAME,
  SINGULAR,
  VERSION,
} from './constants.js';
import { McpPolicySpecSchema } from './schema.js';
import { McpPolicyStatusSchema } from './status.js';

/** The subset of OpenAPI v3 a structural CRD schema uses. */
export interface JSONSchemaProps {
  description?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  required?: string[];
  items?: JSONSchemaProps;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: { rule: string; message: string; fieldPath?: string; reason?: string }[];
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: 'Cluster' | 'Namespaced';
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
      schema: { openAPIV3Schema: JSONSchemaProps };
    }[];
  };
}

/** Keys kept, in this order (so the YAML reads description first and children last). */
const KEY_ORDER = [
  'description',
  'type',
  'format',
  'enum',
  'default',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'maxProperties',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'required',
  'items',
  'properties',
  'additionalProperties',
  'x-kubernetes-validations',
] as const;

/**
 * Normalizes zod's OpenAPI 3.0 output into a structural schema: drops what Kubernetes rejects or
 * does not need (`additionalProperties: false` next to properties, zod's safe-integer bounds,
 * `propertyNames`, the regex zod adds to date-time strings) and fails on constructs a structural
 * schema cannot hold (anyOf, oneOf, $ref, ...), so the schema in schema.ts stays expressible.
 */
export function toStructural(node: Record<string, unknown>, path = 'spec'): JSONSchemaProps {
  const out: Record<string, unknown> = {};
  const known = new Set<string>(KEY_ORDER);
  for (const key of Object.keys(node)) {
    if (!known.has(key) && key !== 'propertyNames' && key !== '$schema') {
      throw new Error(`${path}: "${key}" cannot be expressed in a structural CRD schema`);
    }
  }
  for (const key of KEY_ORDER) {
    const value = node[key];
    if (value === undefined) continue;
    switch (key) {
      case 'minimum':
      case 'maximum':
        if (Math.abs(value as number) < Number.MAX_SAFE_INTEGER) out[key] = value;
        break;
      case 'pattern':
        if (node.format !== 'date-time') out[key] = value;
        break;
      case 'items':
        out[key] = toStructural(value as Record<string, unknown>, `${path}[]`);
        break;
      case 'properties': {
        const props: Record<string, JSONSchemaProps> = {};
        for (const [name, child] of Object.entries(value as Record<string, Record<string, unknown>>)) {
          props[name] = toStructural(child, `${path}.${name}`);
        }
        out[key] = props;
        break;
      }
      case 'additionalProperties':
        if (value === false) break;
        if (value === true) throw new Error(`${path}: additionalProperties must have a schema`);
        out[key] = toStructural(value as Record<string, unknown>, `${path}{}`);
        break;
      default:
        out[key] = value;
    }
  }
  if (out.type === undefined) throw new Error(`${path}: every schema node needs a type`);
  return out as JSONSchemaProps;
}

function fromZod(schema: z.ZodType, path: string): JSONSchemaProps {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as Record<string, unknown>;
  return toStructural(json, path);
}

/** The structural schema of `spec`, with descriptions, bounds, defaults and CEL rules. */
export function fromZodSchema(schema: z.ZodType, path: string): JSONSchemaProps {
  return fromZod(schema, path);
}

export function specSchema(): JSONSchemaProps {
  return fromZod(McpPolicySpecSchema, 'spec');
}

export function statusSchema(): JSONSchemaProps {
  return fromZod(McpPolicyStatusSchema, 'status');
}

export const PRINTER_COLUMNS: readonly PrinterColumn[] = [
  {
    name: 'Ready',
    type: 'string',
    jsonPath: `.status.conditions[?(@.type=="${CONDITION_READY}")].status`,
    description: 'Whether the policy is valid and enforced.',
  },
  {
    name: 'Subjects',
    type: 'string',
    jsonPath: '.spec.subjects[*].name',
    description: 'Name of the first subject (kubectl get -o yaml shows all of them).',
  },
  { name: 'Tools', type: 'string', jsonPath: '.spec.tools', description: 'Tool names and patterns granted.' },
  {
    name: 'Namespaces',
    type: 'integer',
    jsonPath: '.status.matchedNamespaces',
    description: 'How many existing namespaces the policy covers now.',
  },
  // Agent safety (v0.2), in `kubectl get mcpp -o wide`.
  {
    name: 'MaxStep',
    type: 'integer',
    jsonPath: '.spec.replicas.maxStep',
    description: 'Largest change of the replica count per scale call.',
    priority: 1,
  },
  {
    name: 'Cooldown',
    type: 'integer',
    jsonPath: '.spec.cooldownSeconds',
    description: 'Minimum seconds between two KubeMCP scales of one object.',
    priority: 1,
  },
  {
    name: 'RBAC',
    type: 'boolean',
    jsonPath: '.spec.requireKubernetesRBAC',
    description: "Whether the caller's own Kubernetes RBAC must also allow each call.",
    priority: 1,
  },
  {
    name: 'Warnings',
    type: 'string',
    jsonPath: `.status.conditions[?(@.type=="${CONDITION_WARNINGS}")].reason`,
    description:
      'Codes of risky grants (OperatorNamespace, EveryoneSubject, NamespaceServiceAccounts, ScaleToZero); empty when none.',
  },
  {
    name: 'Reason',
    type: 'string',
    jsonPath: `.status.conditions[?(@.type=="${CONDITION_READY}")].reason`,
    description: 'Accepted or Invalid.',
    priority: 1,
  },
  {
    name: 'Message',
    type: 'string',
    jsonPath: `.status.conditions[?(@.type=="${CONDITION_READY}")].message`,
    description: 'Why the policy is invalid, or what it grants.',
    priority: 1,
  },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' },
];

/** What differs between the CRDs of the API group's kinds. */
export interface CrdDefinition {
  readonly kind: string;
  readonly listKind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortName: string;
  readonly scope: 'Cluster' | 'Namespaced';
  readonly description: string;
  readonly spec: JSONSchemaProps;
  readonly status: JSONSchemaProps;
  readonly printerColumns: readonly PrinterColumn[];
}

/** A CRD object of the kubemcp.io group, as `kubectl apply` takes it. */
export function crdFor(def: CrdDefinition): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'kubemcp', 'app.kubernetes.io/part-of': 'kubemcp' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: def.listKind,
        plural: def.plural,
        singular: def.singular,
        shortNames: [def.shortName],
        categories: [...CATEGORIES],
      },
      scope: def.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns.map((c) => ({ ...c })),
          schema: {
            openAPIV3Schema: {
              description: def.description,
              type: 'object',
              required: ['spec'],
              properties: {
                apiVersion: {
                  description: `APIVersion defines the versioned schema of this representation of an object: ${API_VERSION}.`,
                  type: 'string',
                },
                kind: {
                  description: `Kind is a string value representing the REST resource this object represents: ${def.kind}.`,
                  type: 'string',
                },
                // The API server allows nothing but the type here (not even a description).
                metadata: { type: 'object' },
                spec: def.spec,
                status: def.status,
              },
            },
          },
        },
      ],
    },
  };
}

/** The McpPolicy CRD. */
export function buildCrd(): CustomResourceDefinition {
  const crd = crdFor({
    kind: KIND,
    listKind: LIST_KIND,
    plural: PLURAL,
    singular: SINGULAR,
    shortName: SHORT_NAME,
    scope: 'Cluster',
    description: `${KIND} grants MCP tools to callers (ServiceAccounts, users, groups) in a set of namespaces, with replica bounds for scale tools. Everything not granted by some Ready ${KIND} is denied. Cluster-scoped; see docs/policy-reference.md.`,
    spec: specSchema(),
    status: statusSchema(),
    printerColumns: PRINTER_COLUMNS,
  });
  if (crd.metadata.name !== CRD_NAME) throw new Error('CRD name mismatch');
  return crd;
}

export const CRD_FILE = `crds/${GROUP}_${PLURAL}.yaml`;
/**
 * The same CRD inside the kustomize base config/crd: kustomize refuses files outside a
 * kustomization's root, and crds/ holds only CRDs (so `kubectl apply -f crds/` works), so the base
 * carries its own copy, written by the same `npm run manifests` and checked by the same drift test.
 */
export const CRD_KUSTOMIZE_FILE = `config/crd/${GROUP}_${PLURAL}.yaml`;
/** Every file `npm run manifests` writes the CRD to. */
export const CRD_FILES: readonly string[] = [CRD_FILE, CRD_KUSTOMIZE_FILE];
export const GENERATED_HEADER = '# Code generated by npm run manifests. DO NOT EDIT.\n';

/** The exact text of {@link CRD_FILE}. */
export function renderCrdYaml(crd: CustomResourceDefinition = buildCrd()): string {
  return GENERATED_HEADER + yaml().stringify(crd, { lineWidth: 0 });
}
