/**
 * Human confirmation of a scale (McpPolicy `confirm`). A Confirmer asks a human through the MCP
 * client; without one (or when the client cannot ask) the call is refused with ConfirmationRequired:
 * fail closed, never a silent allow.
 */

import type { ScalableKind } from '../../kube/types.js';
import { ToolError } from '../errors.js';

export interface ConfirmationRequest {
  readonly caller: string;
  readonly kind: ScalableKind;
  readonly namespace: string;
  readonly name: string;
  readonly from: number;
  readonly to: number;
  /** Why a human must confirm, e.g. "it scales to zero (policy web)". */
  readonly reasons: readonly string[];
  /**
   * The object's spec version when read (`gen:<metadata.generation>`, or `rv:<resourceVersion>`
   * when the generation is not known): an answer holds only while its spec is unchanged.
   */
  readonly objectVersion?: string;
}

export type ConfirmationAnswer =
  | { readonly outcome: 'accepted'; readonly via: string }
  | { readonly outcome: 'declined'; readonly via: string }
  /** The client cannot ask a human (no elicitation capability, or no way to route the answer back). */
  | { readonly outcome: 'unavailable'; readonly why: string };

export type Confirmer = (request: ConfirmationRequest) => Promise<ConfirmationAnswer>;

/** The human-readable question. */
export function confirmationQuestion(r: ConfirmationRequest): string {
  const kind = r.kind === 'deployment' ? 'Deployment' : 'StatefulSet';
  return `Allow ${r.caller} to scale ${kind} ${r.namespace}/${r.name} from ${r.from} to ${r.to} replicas? A human must confirm because ${r.reasons.join('; ')}.`;
}

export function confirmationRequired(r: ConfirmationRequest, why: string): ToolError {
  return new ToolError(
    'ConfirmationRequired',
    `Scaling ${r.namespace}/${r.name} from ${r.from} to ${r.to} needs a human to confirm; nothing was changed`,
    {
      reason: `A human must confirm because ${r.reasons.join('; ')}, and ${why}`,
      suggestions: [
        'Use an MCP client that supports elicitation (form mode) so KubeMCP can ask the person using it',
        'Choose a smaller change that needs no confirmation (see get_permissions), or ask a person with access to do it',
        'Call again with dryRun: true to see what else would be checked',
      ],
    },
  );
}

export function confirmationDeclined(r: ConfirmationRequest, via: string): ToolError {
  return new ToolError(
    'ConfirmationRequired',
    `The scale of ${r.namespace}/${r.name} from ${r.from} to ${r.to} was not confirmed; nothing was changed`,
    {
      reason: `The person asked through ${via} declined or cancelled it`,
      suggestions: ['Do not retry the same change without asking the person first'],
    },
  );
}
