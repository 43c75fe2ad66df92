// A configured secret's value: given inline (normally `${ENV}` in the config file, substituted
// when it is read) or read from a file (a mounted Kubernetes Secret). The value is never logged;
// errors name the file, not its content.
import { readFile } from 'node:fs/promises';
import type { Secret } from '../domain/config/destinations.ts';
import { ConfigError } from '../platform/errors.ts';

export async function readSecret(secret: Secret, what: string): Promise<string> {
  if (typeof secret === 'string') return secret;
  let text: string;
  try {
    text = await readFile(secret.file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `${what}: cannot read the secret file ${secret.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  // Files written by `kubectl create secret --from-file` or an editor often end in a newline.
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new ConfigError(`${what}: the secret file ${secret.file} is empty`);
  return value;
}
