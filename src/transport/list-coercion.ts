import {
  type GraphQLInputField,
  type GraphQLInputType,
  type GraphQLLeafType,
  getNullableType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
} from 'graphql';

/** Coerces a variable's raw value; undefined when it cannot (graphql-js then coerces it and names what is wrong). */
export type ListCoercer = (raw: unknown) => unknown[] | undefined;

interface LeafField {
  name: string;
  required: boolean;
  nullable: boolean;
  type: GraphQLLeafType;
}

/**
 * A coercer for a list of input objects whose fields are all leaves without
 * defaults (ReadingInput, TradeInput: the ingest batches), or undefined for
 * any other type. It does what graphql-js 17's coerceInputValue does for
 * such a list, field by field through the same leaf `coerceInputValue`, in
 * one flat loop instead of a generic recursion per item, and builds plain
 * objects (graphql-js builds null-prototype ones, which V8 keeps as slow
 * dictionaries for the code that reads them next). It accepts only arrays
 * of plain objects; anything it would have to think about (a single object
 * for a list, an unknown field, a failed leaf) is left to graphql-js, so a
 * caller's error reads the same. test/list-coercion.test.ts checks the two
 * agree. Compiling walks the type's fields: callers keep the result.
 */
export function listCoercer(type: GraphQLInputType): ListCoercer | undefined {
  const list = getNullableType(type);
  if (!isListType(list) || !isNonNullType(list.ofType)) return undefined;
  const item = list.ofType.ofType;
  if (!isInputObjectType(item) || item.isOneOf) return undefined;
  const fields: LeafField[] = [];
  for (const field of Object.values(item.getFields()) as GraphQLInputField[]) {
    const leaf = getNullableType(field.type);
    if (!isLeafType(leaf) || field.default !== undefined || field.defaultValue !== undefined) return undefined;
    fields.push({ name: field.name, required: isNonNullType(field.type), nullable: !isNonNullType(field.type), type: leaf });
  }
  const known = new Set(fields.map((f) => f.name));
  const nullableList = !isNonNullType(type);

  return (raw) => {
    if (raw === null) return nullableList ? (null as unknown as unknown[]) : undefined;
    if (!Array.isArray(raw)) return undefined;
    const out = new Array<unknown>(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const input = raw[i] as Record<string, unknown> | null;
      if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
      for (const key in input) {
        if (input[key] !== undefined && !known.has(key)) return undefined;
      }
      const coerced: Record<string, unknown> = {};
      for (const field of fields) {
        const value = input[field.name];
        if (value === undefined) {
          if (field.required) return undefined;
          continue;
        }
        if (value === null) {
          if (!field.nullable) return undefined;
          coerced[field.name] = null;
          continue;
        }
        try {
          const leaf = field.type.coerceInputValue(value);
          if (leaf === undefined) return undefined;
          coerced[field.name] = leaf;
        } catch {
          return undefined;
        }
      }
      out[i] = coerced;
    }
    return out;
  };
}
