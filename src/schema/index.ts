import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.js';
import './readings.js';
import './history.js';
import './sources.js';
import './metrics.js';
import './dead-letters.js';
import './windows.js';
import './markets.js';
import './trades.js';
import './anomalies.js';
import './processors.js';
import './alerts.js';
import './news2.js';
import './fraud.js';
import './transactions.js';
import './admin.js';

export const schema = lexicographicSortSchema(builder.toSchema());

export function printSdl(): string {
  return printSchema(schema);
}
