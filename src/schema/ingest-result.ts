import type { IngestResult } from '../ingest/ingest-batch.js';
import { ITEM_ERROR_CODES, type ItemError } from '../ingest/item-errors.js';
import { builder } from './builder.js';

/** The answer of every batch ingest mutation. */
const ItemErrorCodeEnum = builder.enumType('IngestErrorCode', { values: ITEM_ERROR_CODES });

const IngestErrorRef = builder.objectRef<ItemError>('IngestError').implement({
  description: 'Why one submitted item was rejected. Other items of the batch are unaffected.',
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Position of the item in the submitted list, from 0.' }),
    field: t.exposeString('field', { description: 'The item\'s field at fault; null when the item as a whole is.', nullable: true }),
    code: t.field({ description: 'What kind of problem.', type: ItemErrorCodeEnum, resolve: (e) => e.code }),
    message: t.exposeString('message', { description: 'What is wrong, naming the value.' }),
  }),
});

export const IngestResultRef = builder.objectRef<IngestResult>('IngestResult').implement({
  description: 'Returned only after the accepted rows are committed.',
  fields: (t) => ({
    accepted: t.exposeInt('accepted', { description: 'Items newly stored.' }),
    duplicates: t.exposeInt('duplicates', { description: 'Items already stored (same natural key: source, metric and time for readings; symbol, time and tradeId for trades; id for transactions); the stored one is kept.' }),
    rejected: t.exposeInt('rejected', { description: 'Items rejected; each has at least one entry in errors and is kept as a dead letter.' }),
    errors: t.field({ description: 'One entry per problem of each rejected item.', type: [IngestErrorRef], resolve: (r) => r.errors }),
    lastCursor: t.string({ nullable: true, description: 'Stream cursor of the last item stored by this batch.', resolve: (r) => r.lastCursor?.toString() ?? null }),
  }),
});

