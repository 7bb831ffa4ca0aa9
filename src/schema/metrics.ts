import { metricCatalog, type MetricDefinition } from '../ingest/metrics.js';
import { builder } from './builder.js';

const MetricRef = builder.objectRef<MetricDefinition>('Metric').implement({
  description: 'A metric the platform accepts, with its unit and plausible range; values outside it are stored as SUSPECT.',
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    unit: t.exposeString('unit'),
    min: t.exposeFloat('min'),
    max: t.exposeFloat('max'),
  }),
});

builder.queryField('metrics', (t) =>
  t.field({ type: [MetricRef], description: 'The metric catalog.', resolve: () => [...metricCatalog()] }),
);
