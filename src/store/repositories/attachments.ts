import { AccordError } from '../../errors/index.js';
import type { AttachmentMeta, AttachmentRepository, ProductAttachment } from '../store.js';
import { notFound, nowIso, type RepositoryContext, sha256Hex } from './context.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function createAttachmentRepository(ctx: RepositoryContext): AttachmentRepository {
  const { db } = ctx;

  const getMeta = async (sha256: string): Promise<AttachmentMeta | undefined> => {
    const row = await db
      .selectFrom('attachments')
      .select(['sha256', 'size', 'media_type', 'created_at'])
      .where('sha256', '=', sha256)
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : { sha256: row.sha256, size: Number(row.size), mediaType: row.media_type, createdAt: row.created_at };
  };

  return {
    async put(input) {
      const size = input.bytes.byteLength;
      if (size > ctx.maxAttachmentBytes) {
        throw new AccordError(
          'ATTACHMENT_TOO_LARGE',
          `attachment is ${size} bytes; the limit is ${ctx.maxAttachmentBytes} bytes`,
          { size, limit: ctx.maxAttachmentBytes },
        );
      }
      const sha256 = sha256Hex(input.bytes);
      // Content-addressed: the same bytes are stored once, whoever uploads them.
      await db
        .insertInto('attachments')
        .values({
          sha256,
          size,
          media_type: input.mediaType,
          bytes: input.bytes,
          created_at: nowIso(ctx),
        })
        .onConflict((oc) => oc.column('sha256').doNothing())
        .execute();
      const meta = await getMeta(sha256);
      if (meta === undefined) throw notFound('attachment', { sha256 });
      return meta;
    },

    async get(sha256) {
      if (!SHA256_HEX.test(sha256)) return undefined;
      const row = await db
        .selectFrom('attachments')
        .selectAll()
        .where('sha256', '=', sha256)
        .executeTakeFirst();
      if (row === undefined) return undefined;
      return {
        sha256: row.sha256,
        size: Number(row.size),
        mediaType: row.media_type,
        createdAt: row.created_at,
        bytes: new Uint8Array(row.bytes),
      };
    },

    async link(input) {
      await db
        .insertInto('product_attachments')
        .values({
          product_id: input.productId,
          version: input.version,
          sha256: input.sha256,
          filename: input.filename,
        })
        .execute();
      const meta = await getMeta(input.sha256);
      if (meta === undefined) throw notFound('attachment', { sha256: input.sha256 });
      return { ...input, size: meta.size, mediaType: meta.mediaType };
    },

    async listForProduct(productId, version) {
      const rows = await db
        .selectFrom('product_attachments as l')
        .innerJoin('attachments as a', 'a.sha256', 'l.sha256')
        .select(['l.product_id', 'l.version', 'l.sha256', 'l.filename', 'a.size', 'a.media_type'])
        .where('l.product_id', '=', productId)
        .where('l.version', '=', version)
        .orderBy('l.filename')
        .execute();
      return rows.map(
        (r): ProductAttachment => ({
          productId: r.product_id,
          version: r.version,
          sha256: r.sha256,
          filename: r.filename,
          size: Number(r.size),
          mediaType: r.media_type,
        }),
      );
    },
  };
}
