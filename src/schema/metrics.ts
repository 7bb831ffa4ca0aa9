import { ValidationError } from '../errors.js';
import { metricCatalog, metricDefinition, type MetricDefinition } from '../ingest/metrics.js';
import { builder } from './builder.js';
import { LIST_SIZE } from './cost.js';

/**
 * Refuses a metric outside the catalog in a query's or subscription's filter: ingest refuses such readings, so it
 * could only ever match nothing, and a typo ("heart-rate") would read as a patient with no data.
 */
export function checkMetrics(metrics: readonly string[] | null | undefined, argument: string): void {
  for (const metric of metrics ?? []) {
    if (!metricDefinition(metric)) throw new ValidationError(`metric ${JSON.stringify(metric)} is not in the catalog (query metrics for the list)`, { argument });
  }
}

const MetricRef = builder.objectRef<MetricDefinition>('Metric').implement({
  description: 'A metric the platform accepts, with its unit and plausible range; values outside it (or not whole, for a code) are stored as SUSPECT.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The metric\'s name, as sent in readings.' }),
    description: t.exposeString('description', { description: 'What it measures.' }),
    unit: t.exposeString('unit', { description: 'Its unit.' }),
    min: t.exposeFloat('min', { description: 'Lowest plausible value.' }),
    max: t.exposeFloat('max', { description: 'Highest plausible value.' }),
    integer: t.boolean({ description: 'True for a code (ACVPU): only whole numbers are plausible.', resolve: (m) => m.integer ?? false }),
  }),
});

builder.queryField('metrics', (t) =>
  t.field({ type: [MetricRef], description: 'The metric catalog.', resolve: () => [...metricCatalog()], extensions: { [LIST_SIZE]: () => metricCatalog().length } }),
);
