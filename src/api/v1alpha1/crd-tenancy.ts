/**
 * The CRDs of the tenancy kinds (McpNamespacePolicy, McpDelegation), derived from tenancy.ts like
 * the McpPolicy CRD is from schema.ts. Pure; `npm run manifests` writes them.
 */

import {
  CONDITION_READY,
  CRD_NAME,
  DELEGATION_KIND,
  DELEGATION_LIST_KIND,
  DELEGATION_PLURAL,
  DELEGATION_SHORT_NAME,
  DELEGATION_SINGULAR,
  GROUP,
  NS_KIND,
  NS_LIST_KIND,
  NS_PLURAL,
  NS_SHORT_NAME,
  NS_SINGULAR,
} from './constants.js';
import {
  CRD_FILE,
  type CustomResourceDefinition,
  crdFor,
  fromZodSchema,
  PRINTER_COLUMNS,
  type PrinterColumn,
  renderCrdYaml,
  statusSchema,
} from './crd.js';
import { McpDelegationSpecSchema, McpNamespacePolicySpecSchema } from './tenancy.js';

const READY_COLUMNS = (what: string): PrinterColumn[] => [
  {
    name: 'Ready',
    type: 'string',
    jsonPath: `.status.conditions[?(@.type=="${CONDITION_READY}")].status`,
    description: what,
  },
  {
    name: 'Reason',
    type: 'string',
    jsonPath: `.status.conditions[?(@.type=="${CONDITION_READY}")].reason`,
    description: 'Accepted, Invalid, NotDelegated or ExceedsCeiling.',
  },
];

export function buildNamespacePolicyCrd(): CustomResourceDefinition {
  return crdFor({
    kind: NS_KIND,
    listKind: NS_LIST_KIND,
    plural: NS_PLURAL,
    singular: NS_SINGULAR,
    shortName: NS_SHORT_NAME,
    scope: 'Namespaced',
    description: `${NS_KIND} grants MCP tools to callers in its own namespace only, bounded by the ceiling of an McpDelegation that covers the namespace; without one it grants nothing. See docs/multi-tenancy.md.`,
    spec: fromZodSchema(McpNamespacePolicySpecSchema, 'spec'),
    status: statusSchema(),
    printerColumns: [
      ...READY_COLUMNS('Whether the policy is valid, delegated, within its ceiling and enforced.'),
      ...PRINTER_COLUMNS.filter((c) => ['Subjects', 'Tools', 'Message', 'Age'].includes(c.name)),
    ],
  });
}

export function buildDelegationCrd(): CustomResourceDefinition {
  return crdFor({
    kind: DELEGATION_KIND,
    listKind: DELEGATION_LIST_KIND,
    plural: DELEGATION_PLURAL,
    singular: DELEGATION_SINGULAR,
    shortName: DELEGATION_SHORT_NAME,
    scope: 'Cluster',
    description: `${DELEGATION_KIND} lets the namespaces it covers accept McpNamespacePolicies, and sets the most such a policy may grant there. Nothing is delegated without one. Cluster-scoped; see docs/multi-tenancy.md.`,
    spec: fromZodSchema(McpDelegationSpecSchema, 'spec'),
    status: statusSchema(),
    printerColumns: [
      ...READY_COLUMNS('Whether the delegation is valid and in force.'),
      {
        name: 'Namespaces',
        type: 'integer',
        jsonPath: '.status.matchedNamespaces',
        description: 'How many existing namespaces the delegation covers now.',
      },
      {
        name: 'Age',
        type: 'date',
        jsonPath: '.metadata.creationTimestamp',
        description: 'Time since creation.',
      },
    ],
  });
}

/** One generated CRD: its files (crds/, config/crd/) and its text. */
export interface GeneratedCrd {
  readonly files: readonly string[];
  readonly chartFile: string;
  readonly render: () => string;
}

function generated(plural: string, build: () => CustomResourceDefinition): GeneratedCrd {
  const file = `${GROUP}_${plural}.yaml`;
  return {
    files: [`crds/${file}`, `config/crd/${file}`],
    chartFile: `charts/kubemcp/files/crds/${file}`,
    render: () => renderCrdYaml(build()),
  };
}

/** The tenancy CRDs; the McpPolicy CRD is {@link renderCrdYaml}'s default. */
export const TENANCY_CRDS: readonly GeneratedCrd[] = [
  generated(NS_PLURAL, buildNamespacePolicyCrd),
  generated(DELEGATION_PLURAL, buildDelegationCrd),
];

/** Every CRD file in crds/ (what `kubectl apply -f crds/` applies), McpPolicy's first. */
export const ALL_CRD_FILES: readonly string[] = [CRD_FILE, ...TENANCY_CRDS.map((c) => c.files[0] ?? '')];
/** The names of every CRD of the group, McpPolicy's first. */
export const ALL_CRD_NAMES: readonly string[] = [
  CRD_NAME,
  `${NS_PLURAL}.${GROUP}`,
  `${DELEGATION_PLURAL}.${GROUP}`,
];
