import { readFileSync } from 'node:fs';
import { buildSchema, isEnumType } from 'graphql';
import { expect, it } from 'vitest';

// schema.graphql is what codegen prints from the Pothos schema (CI fails when it is stale).
const schema = buildSchema(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

it('describes every public operation and each of its arguments', () => {
  const undescribed: string[] = [];
  for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    for (const field of Object.values(root!.getFields())) {
      if (!field.description?.trim()) undescribed.push(`${root!.name}.${field.name}`);
      for (const arg of field.args) if (!arg.description?.trim()) undescribed.push(`${root!.name}.${field.name}(${arg.name})`);
    }
  }
  expect(undescribed).toEqual([]);
});

it('describes every field of every object and input type', () => {
  const undescribed: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || !('getFields' in type)) continue;
    for (const field of Object.values(type.getFields())) if (!field.description?.trim()) undescribed.push(`${type.name}.${field.name}`);
  }
  expect(undescribed).toEqual([]);
});

it('describes every named type and every enum value', () => {
  const undescribed: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (!type.description?.trim()) undescribed.push(type.name);
    if (isEnumType(type)) for (const value of type.getValues()) if (!value.description?.trim()) undescribed.push(`${type.name}.${value.name}`);
  }
  expect(undescribed).toEqual([]);
});
