import { AccordError } from '../../errors/index.js';
import type { AttachmentMeta, AttachmentRepository, ProductAttachment } from '../store.js';
import { notFound, nowIso, type RepositoryContext, sha256Hex } from './context.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;
const MAX_FILE_NAME = 255;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Separators of any platform: `/`, `\`, and `:` (a Windows drive or alternate data stream).
const SEPARATOR = /[/\\:]/;

/**
 * Whether a UTF-16 code unit is a control character (C0, DEL, C1) or a bidirectional override or
 * isolate, which makes `gpj.exe` read as `exe.jpg`.
 */
function isUnsafeCodeUnit(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/**
 * Why a file name cannot name an attachment, or undefined when it can: one path segment, never
 * `.` or `..`, no separators, control characters or bidirectional overrides, well-formed Unicode,
 * no surrounding space, at most 255 characters. A name is shown and may become a download's name,
 * so one that could climb out of a directory or disguise its type is refused, not cleaned.
 */
function fileNameProblem(name: string): string | undefined {
  // attacker-controlled: file names come with uploads and imports.
  if (name.length === 0) return 'is empty';
  if (name.length > MAX_FILE_NAME) return `is longer than ${MAX_FILE_NAME} characters`;
  if (LONE_SURROGATE.test(name)) return 'is not well-formed Unicode';
  if (SEPARATOR.test(name)) return 'holds a path separator';
  for (let i = 0; i < name.length; i++) {
    if (isUnsafeCodeUnit(name.charCodeAt(i))) return 'holds a control character or a direction override';
  }
  if (/^\.+$/.test(name)) return 'is only dots';
  if (name.trim() !== name) return 'starts or ends with white space';
  return undefined;
}

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
      const problem = fileNameProblem(input.filename);
      if (problem !== undefined) {
        throw new AccordError(
          'INPUT_INVALID',
          `attachment file name ${JSON.stringify(input.filename.slice(0, 80))} ${problem}`,
          { path: 'filename' },
        );
      }
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
