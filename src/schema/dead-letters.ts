import { INGEST_STREAMS, listDeadLetters } from '../db/dead-letters.js';
import { ValidationError } from '../errors.js';
import { builder } from './builder.js';
import { connectionOf, pageSize, parseCursor, toPage } from './pagination.js';
import { pageArgs, type PageBounds } from './cost.js';

const PAGE: PageBounds = { max: 500, fallback: 50 };

interface DeadLetterView {
  id: bigint;
  stream: string;
  receivedAt: Date;
  caller: string;
  item: unknown;
  errors: unknown;
}

const DeadLetterRef = builder.objectRef<DeadLetterView>('DeadLetter').implement({
  description: 'A rejected ingest item, kept for DEAD_LETTER_RETENTION so operators can see what partners send wrong.',
  fields: (t) => ({
    id: t.id({ description: 'Its id.', resolve: (d) => d.id.toString() }),
    stream: t.exposeString('stream', { description: 'readings, trades or transactions.' }),
    receivedAt: t.field({ description: 'When the batch holding it arrived.', type: 'DateTime', resolve: (d) => d.receivedAt }),
    caller: t.exposeString('caller', { description: 'Who sent it: key id (or "anonymous") @ client address.' }),
    item: t.field({ type: 'JSON', nullable: true, description: 'The item as submitted.', resolve: (d) => d.item }),
    errors: t.field({ type: 'JSON', description: 'The IngestErrors it got.', resolve: (d) => d.errors }),
  }),
});

const DeadLetterConnection = connectionOf('DeadLetter', DeadLetterRef);

builder.queryField('deadLetters', (t) =>
  t.field({
    type: DeadLetterConnection,
    description: 'Rejected ingest items, newest first.',
    args: {
      stream: t.arg.string({ description: 'Only this stream\'s: readings, trades or transactions.' }),
      ...pageArgs(t.arg, PAGE),
    },
    resolve: async (_root, args, ctx) => {
      // A misspelt stream would otherwise answer an empty page, as if nothing had been rejected.
      if (args.stream != null && !INGEST_STREAMS.includes(args.stream)) {
        throw new ValidationError(`stream must be one of ${INGEST_STREAMS.join(', ')}, got ${JSON.stringify(args.stream)}`, { argument: 'stream' });
      }
      const limit = pageSize(args.first, PAGE);
      const found = await listDeadLetters(ctx.services.database.db, {
        tenantId: ctx.scope.tenantId,
        stream: args.stream,
        before: parseCursor(args.after, 'after'),
        limit: limit + 1,
      });
      return toPage(found, limit, (d) => d.id.toString(), args.after);
    },
  }),
);
