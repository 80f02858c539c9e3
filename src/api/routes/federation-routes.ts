import type { FastifyInstance } from 'fastify';
import { AccordError, isAccordError } from '../../errors/index.js';
import { MAX_CIPHERTEXT_BYTES } from '../../federation/index.js';
import type { InboxService } from '../../services/inbox-service.js';

/**
 * The largest inbox request: the base64url text of the largest ciphertext an envelope may carry,
 * and room for the header, signature, enc and JSON punctuation around it.
 */
// RFC 4648 §5: unpadded base64url writes 3 bytes as 4 characters.
export const INBOX_BODY_LIMIT_BYTES = Math.ceil((MAX_CIPHERTEXT_BYTES * 4) / 3) + 64 * 1024;

/** /federation/v1: what peer nodes call. */
export function registerFederationRoutes(app: FastifyInstance, inbox: InboxService | undefined): void {
  app.post(
    '/federation/v1/inbox',
    {
      // Public: a peer node is no user of this one. The envelope authenticates itself (its header
      // signature under a key the arrangement pins), and the inbox refuses it otherwise.
      config: { access: { public: true } },
      bodyLimit: INBOX_BODY_LIMIT_BYTES,
      schema: {
        tags: ['federation'],
        summary: 'Deliver an envelope from a partner node',
        description:
          'The body is a sealed envelope (header, signature, enc, ciphertext). 201 with the signed receipt when ' +
          'the product is stored (or a recall carried out), 200 with the same receipt when the same envelope is delivered again; a refusal ' +
          'is problem+json naming its code and reason, with a signed refusal receipt when the product was read.',
        security: [],
      },
      // A refused envelope is a peer's (or a stranger's) doing: one line with where it came from.
      onError: async (request, _reply, error) => {
        if (!isAccordError(error)) return;
        request.log.warn(
          { remoteAddress: request.ip, code: error.code, envelopeId: error.details.envelopeId },
          `federation inbox refused an envelope: ${error.message}`,
        );
      },
    },
    async (request, reply) => {
      if (inbox === undefined) {
        throw new AccordError(
          'FEDERATION_NOT_CONFIGURED',
          'this node runs without node keys and takes no envelopes (start it with its keys)',
          {},
        );
      }
      // attacker-controlled: the body, until openEnvelope has checked it.
      const answer = await inbox.receive(request.body, request.ip);
      return reply.code(answer.outcome === 'stored' ? 201 : 200).send(answer.receipt);
    },
  );
}
