/**
 * Field extension marking a root field (a subscription or a query) whose
 * result is a list of objects that the plain executor
 * (transport/plain-lists.ts) may complete instead of graphql-js's generic one.
 * The marker promises that the field's resolver and its item type's
 * resolvers do not read `info`; on a query, also that the resolver only
 * reads: an item the plain loop cannot complete exactly as graphql-js would
 * (a null or an error inside it) sends the operation to graphql-js, which
 * runs the resolver again.
 */
export const PLAIN_LIST = 'vigilPlainList';
