import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { COMPLIANCE_CSS, renderComplianceHtml } from '../../oversight/compliance-html.js';
import type { ComplianceService } from '../../services/compliance-service.js';
import { actorOf } from '../authenticate.js';
import { styleHashSource } from '../security-headers.js';

const ComplianceQuery = Type.Object(
  {
    arrangement: Type.String({ minLength: 1, maxLength: 128, description: 'the arrangement id' }),
    from: Type.String({
      maxLength: 64,
      description: 'start of the period, included: a day or an instant with a zone',
    }),
    to: Type.String({ maxLength: 64, description: 'end of the period, excluded' }),
    format: Type.Optional(Type.Enum(['json', 'html'] as const, { description: 'json (default) or html' })),
  },
  { additionalProperties: false },
);

// The page has no script and loads nothing; its one inline style sheet is allowed by its hash (CSP
// Level 3 §8.3), not by 'unsafe-inline', so nothing injected into it could style or run either.
const STYLE_HASH = styleHashSource(COMPLIANCE_CSS);

/** The content security policy of the HTML compliance report. */
export const COMPLIANCE_HTML_POLICY = [
  "default-src 'none'",
  `style-src ${STYLE_HASH}`,
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** /api/v1/reports (issue 5): compliance reports per arrangement and period, metadata only. */
export function registerReportRoutes(root: FastifyInstance, compliance: ComplianceService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/v1/reports/compliance',
    {
      config: { access: { permission: 'report:read' } },
      schema: {
        tags: ['reports'],
        summary:
          'Compliance report of one arrangement over [from, to): releases by pair, classification and discipline, denials by rule, approvals, recalls, anomalies',
        querystring: ComplianceQuery,
      },
    },
    async (request, reply) => {
      const { arrangement, from, to, format } = request.query;
      const report = await compliance.report(actorOf(request), { arrangement, from, to });
      if (format === 'html') {
        return reply
          .type('text/html; charset=utf-8')
          .header('content-security-policy', COMPLIANCE_HTML_POLICY)
          .send(renderComplianceHtml(report));
      }
      return report;
    },
  );
}
