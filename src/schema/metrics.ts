import { metricCatalog, type MetricDefinition } from '../ingest/metrics.js';
import { builder } from './builder.js';

const MetricRef = builder.objectRef<MetricDefinition>('Metric').implement({
  description: 'A metric the platform accepts, with its unit and plausible range; values outside it are stored as SUSPECT.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The metric\'s name, as sent in readings.' }),
    description: t.exposeString('description', { description: 'What it measures.' }),
    unit: t.exposeString('unit', { description: 'Its unit.' }),
    min: t.exposeFloat('min', { description: 'Lowest plausible value.' }),
    max: t.exposeFloat('max', { description: 'Highest plausible value.' }),
  }),
});

builder.queryField('metrics', (t) =>
  t.field({ type: [MetricRef], description: 'The metric catalog.', resolve: () => [...metricCatalog()] }),
);
