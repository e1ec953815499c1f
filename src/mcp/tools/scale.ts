import { z } from 'zod';
import type { ScalableKind } from '../../kube/types.js';
import { SCALE_TOOL } from '../guarded.js';
import { boundsOf, scaleLimitsText, scopeText } from './lists.js';
import { ScaleInputSchema, ScaleOutputSchema, type ToolDefinition } from './schemas.js';

/** The scale tools (scale_deployment, scale_statefulset): bounds and limits stated per caller. */

export function scaleTool(
  kind: ScalableKind,
): ToolDefinition<typeof ScaleInputSchema, typeof ScaleOutputSchema> {
  const name = SCALE_TOOL[kind];
  const title = kind === 'deployment' ? 'Deployment' : 'StatefulSet';
  return {
    name,
    title: `Scale a ${title}`,
    // Changes the replica count (it can scale to zero), but to an absolute count: repeating it is harmless.
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    inputSchema: ScaleInputSchema,
    outputSchema: ScaleOutputSchema,
    description: (p) => {
      const bounds = boundsOf(p.grants, name);
      const perPolicy = p.grants
        .filter((g) => g.tools.includes(name) && g.replicas !== undefined)
        .map((g) => `${g.replicas?.min}-${g.replicas?.max} in ${scopeText([g], name)} (policy ${g.policy})`);
      return (
        `Set the replica count of a ${title} through its scale subresource. ` +
        (bounds === undefined
          ? ''
          : `You may set between ${bounds.min} and ${bounds.max} replicas: ${perPolicy.join('; ')}. `) +
        scaleLimitsText(p.grants, name) +
        'Scaling to the current count changes nothing. The result says from what to what, and how many ' +
        'replicas are ready. When unsure, call it first with dryRun: true: everything is checked, ' +
        'including by the API server, and nothing changes.'
      );
    },
    advertisedInputSchema: (p) => {
      const bounds = boundsOf(p.grants, name) ?? { min: 0, max: 0 };
      return ScaleInputSchema.extend({
        replicas: z
          .number()
          .int()
          .min(bounds.min)
          .max(bounds.max)
          .describe(
            `Target replica count (you may set ${bounds.min} to ${bounds.max})${scaleLimitsText(
              p.grants,
              name,
            )
              .replace(/^Limits: /, '; ')
              .replace(/\. $/, '')}`,
          ),
      });
    },
    handler: async (input, { client }) => {
      const out = await client.scale(kind, input.namespace, input.name, input.replicas, {
        dryRun: input.dryRun,
      });
      const ready = `(${out.readyReplicas}/${out.to} ready)`;
      let message = out.changed
        ? `scaled ${out.name} from ${out.from} to ${out.to} ${ready}`
        : `${out.name} already has ${out.to} replicas ${ready}; nothing changed`;
      if (out.dryRun && out.from !== out.to) {
        message = `dry run: ${out.name} would be scaled from ${out.from} to ${out.to}; the API server accepted the change and nothing was changed`;
        if (out.confirmation !== undefined)
          message += `; a human would have to confirm it (${out.confirmation.reasons.join('; ')})`;
      } else if (out.dryRun) {
        message = `dry run: ${message}`;
      }
      return {
        structured: {
          kind,
          namespace: out.namespace,
          name: out.name,
          from: out.from,
          to: out.to,
          changed: out.changed,
          readyReplicas: out.readyReplicas,
          policies: [...out.policies],
          message,
          dryRun: out.dryRun,
          ...(out.confirmation === undefined
            ? {}
            : {
                confirmation: {
                  reasons: [...out.confirmation.reasons],
                  ...(out.confirmation.via === undefined ? {} : { via: out.confirmation.via }),
                },
              }),
        },
        text: `${message} in namespace ${out.namespace}`,
      };
    },
  };
}
