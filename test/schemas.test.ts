import { readFileSync } from 'node:fs';
import test from 'ava';
import { renderSchemas } from '../scripts/gen-schemas.ts';

test('event schemas: the committed JSON Schemas match the zod schemas (run `npm run schemas`)', (t) => {
  const generated = renderSchemas();
  t.true(generated.size >= 3);
  for (const [file, text] of generated) {
    const committed = readFileSync(new URL(`../schemas/${file}`, import.meta.url), 'utf8');
    t.is(committed, text, file);
  }
});

test('event schemas: the issue schema requires the fields subscribers rely on', (t) => {
  const schema = JSON.parse(renderSchemas().get('dev.kubeincident.issue.created.v1.json') ?? '{}');
  for (const field of [
    'id',
    'fingerprint',
    'type',
    'source',
    'severity',
    'status',
    'subject',
    'startsAt',
    'enrichments',
  ]) {
    t.true(schema.required.includes(field), field);
  }
  t.deepEqual(schema.properties.severity.enum, ['HIGH', 'LOW', 'INFO', 'DEBUG']);
});
