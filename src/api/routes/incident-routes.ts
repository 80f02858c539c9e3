import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import {
  type IncidentDecision,
  IncidentReportInputSchema,
  type IncidentService,
  IncidentStepInputSchema,
} from '../../services/incident-service.js';
import { actorOf } from '../authenticate.js';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });

/** The step routes: path segment, the step it takes, and who may take it. */
const STEPS: readonly {
  readonly path: string;
  readonly action: IncidentDecision;
  readonly permission: 'incident:review' | 'arrangement:write';
  readonly summary: string;
}[] = [
  {
    path: 'review',
    action: 'review-opened',
    permission: 'incident:review',
    summary: 'Open the oversight review',
  },
  { path: 'confirm', action: 'confirmed', permission: 'incident:review', summary: 'Confirm the breach' },
  {
    path: 'resolve',
    action: 'resolved',
    permission: 'incident:review',
    summary: 'Resolve: no breach, or dealt with',
  },
  {
    path: 'suspend',
    action: 'party-suspended',
    permission: 'arrangement:write',
    summary:
      "Suspend the suspected party: the parties' decision where the protocol does not suspend on its own",
  },
];

/** /api/v1/incidents: report a breach, follow it, and (the oversight body) review it. */
export function registerIncidentRoutes(root: FastifyInstance, incidents: IncidentService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['incidents'];

  app.get(
    '/api/v1/incidents',
    {
      config: { access: { permission: 'incident:read' } },
      schema: {
        tags,
        summary: 'Incidents: reported breaches and the audit forks gossip found',
        description: 'An oversight auditor scoped to arrangements sees the incidents under those only.',
      },
    },
    async (request) => incidents.list(actorOf(request)),
  );

  app.post(
    '/api/v1/incidents',
    {
      config: { access: { permission: 'incident:report' } },
      schema: {
        tags,
        summary: "Report a breach: the arrangement's breach protocol runs",
        description:
          'Stores the incident and notifies every other party by federation (one incident envelope each, ' +
          "retried until delivered; the view shows each party's delivery against the protocol's deadline). " +
          'When the protocol says recall, the products involved that this node originated are recalled in ' +
          'the same transaction, and each party recalls its own when the notice reaches it. 201 with the incident.',
        body: IncidentReportInputSchema,
      },
    },
    async (request, reply) => reply.code(201).send(await incidents.report(actorOf(request), request.body)),
  );

  app.get(
    '/api/v1/incidents/:id',
    {
      config: { access: { permission: 'incident:read' } },
      schema: {
        tags,
        summary: 'One incident, its steps, and (at the node that took the report) who has been notified',
        params: IdParams,
      },
    },
    async (request) => incidents.get(actorOf(request), request.params.id),
  );

  for (const step of STEPS) {
    app.post(
      `/api/v1/incidents/:id/${step.path}`,
      {
        config: { access: { permission: step.permission } },
        schema: {
          tags,
          summary: step.summary,
          description:
            'Taken at the node that took the report; the step is sent to every party. Confirming suspends ' +
            'the suspected party at every node when the protocol says autoSuspendOnConfirmedBreach. 409 ' +
            'INCIDENT_STATE_INVALID when the state does not allow it.',
          params: IdParams,
          body: IncidentStepInputSchema,
        },
      },
      async (request) => incidents.decide(actorOf(request), request.params.id, step.action, request.body),
    );
  }
}
