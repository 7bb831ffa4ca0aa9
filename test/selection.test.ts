import { buildSchema, execute, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { selectsField } from '../src/schema/selection.js';

// A page's stream position costs a read of its own, made before the page: made only when the page asks for it.
const schema = buildSchema(`
  type Page { position: String, total: Int }
  type Query { page: Page }
`);

async function asks(query: string): Promise<boolean> {
  let selected: boolean | undefined;
  const result = await execute({
    schema,
    document: parse(query),
    rootValue: {
      page: (_args: unknown, _ctx: unknown, info: Parameters<typeof selectsField>[0]) => {
        selected = selectsField(info, 'position');
        return { position: '7', total: 1 };
      },
    },
  });
  expect(result.errors).toBeUndefined();
  return selected!;
}

describe('selectsField', () => {
  it('finds the field however the query selects it: directly, aliased, in a fragment or an inline fragment', async () => {
    expect(await asks('{ page { position } }')).toBe(true);
    expect(await asks('{ page { total at: position } }')).toBe(true);
    expect(await asks('{ page { ...P } } fragment P on Page { total ...Q } fragment Q on Page { position }')).toBe(true);
    expect(await asks('{ page { ... on Page { position } } }')).toBe(true);
    // @include(if: false) is not evaluated: it counts as asked, which costs a read and never a wrong answer.
    expect(await asks('{ page { position @include(if: false) } }')).toBe(true);
  });

  it('says no when the page leaves it out, through fragments too', async () => {
    expect(await asks('{ page { total } }')).toBe(false);
    expect(await asks('{ page { ...P } } fragment P on Page { total }')).toBe(false);
    expect(await asks('{ page { ... on Page { total } } }')).toBe(false);
    // Named elsewhere in the document, not under this field.
    expect(await asks('{ page { total } } fragment Unused on Page { position }')).toBe(false);
  });
});
