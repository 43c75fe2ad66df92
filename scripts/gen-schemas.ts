// Writes the JSON Schema of every event type's `data` to schemas/, generated from the zod
// schemas. A test fails when the committed files drift from the code.
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { eventDataSchemas } from '../lib/events.ts';

export function renderSchemas(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [type, schema] of Object.entries(eventDataSchemas())) {
    const doc = { $id: `urn:kubeincident:schema:${type}`, title: `${type} data`, ...(schema as object) };
    out.set(`${type}.json`, `${JSON.stringify(doc, null, 2)}\n`);
  }
  return out;
}

if (import.meta.main) {
  const dir = resolve(import.meta.dirname, '../schemas');
  await mkdir(dir, { recursive: true });
  for (const [file, text] of renderSchemas()) {
    await writeFile(resolve(dir, file), text);
    console.log(`wrote schemas/${file}`);
  }
}
