// Writes the JSON Schema of every event type's `data` to schemas/, generated from the zod
// schemas. A test fails when the committed files drift from the code.
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { Config } from '../lib/domain/config/schema.ts';
import { eventDataSchemas } from '../lib/domain/events.ts';

export function renderSchemas(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [type, schema] of Object.entries(eventDataSchemas())) {
    const doc = { $id: `urn:kubeincident:schema:${type}`, title: `${type} data`, ...(schema as object) };
    out.set(`${type}.json`, `${JSON.stringify(doc, null, 2)}\n`);
  }
  // The configuration file: editors validate it with this (yaml-language-server: $schema=...).
  const config = {
    $id: 'urn:kubeincident:schema:config',
    title: 'kubeincident configuration',
    ...z.toJSONSchema(Config, { io: 'input', unrepresentable: 'any' }),
  };
  out.set('config.schema.json', `${JSON.stringify(config, null, 2)}\n`);
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
