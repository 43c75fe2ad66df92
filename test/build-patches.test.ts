// The build's patches of ioredis (scripts/build.ts) apply to the ioredis installed, and an
// upgrade that changes what they edit or replace fails the build instead of shipping unpatched
// or wrongly patched code (docs/performance.md, "Dependency patches").
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import test from 'ava';
import { checkScriptHashesOnly, commanderInDictionaryMode } from '../scripts/build.ts';

const builtDir = dirname(createRequire(import.meta.url).resolve('ioredis'));
const commander = readFileSync(join(builtDir, 'utils', 'Commander.js'), 'utf8');
const script = readFileSync(join(builtDir, 'Script.js'), 'utf8');

test('build patches: the installed ioredis reads as they expect', (t) => {
  const patched = commanderInDictionaryMode('Commander.js', commander);
  t.true(
    patched.includes(
      'delete Commander.prototype.__dictionaryMode;\ncommands.forEach(function (commandName) {',
    ),
    'the prototype goes into dictionary mode right before the loop',
  );
  t.notThrows(() => checkScriptHashesOnly('Script.js', script));
});

test('build patches: an ioredis whose Commander loop reads differently fails the build', (t) => {
  for (const changed of [
    commander.replace('commands.forEach(function (commandName) {', 'for (const commandName of commands) {'),
    commander.replace('class Commander {', 'class Commands {'),
    `${commander}\ncommands.forEach(function (commandName) {});`,
  ])
    t.throws(() => commanderInDictionaryMode('Commander.js', changed), {
      message: /revisit ioredisCommandsInDictionaryMode/,
    });
});

test('build patches: an ioredis whose Script uses crypto for more than that one SHA-1 fails the build', (t) => {
  for (const changed of [
    script.replace('.digest("hex")', '.digest("base64")'),
    script.replace('createHash)("sha1")', 'createHash)("sha256")'),
    `${script}\nconst id = (0, crypto_1.randomUUID)();`,
    script.replace('const crypto_1 = require("crypto");', 'const crypto_1 = require("./hash");'),
  ])
    t.throws(() => checkScriptHashesOnly('Script.js', changed), { message: /revisit ioredisScriptSha1/ });
});
