'use strict';
// The entry of every function bundle (dist/<function>/index.cjs, copied there by scripts/build.ts).
// It runs the bundle (main.cjs) with V8's code cache for it (main.cjs.cache): the bytecode of
// every function compiled while a training run of that bundle started, written by
// `npm run build` and again by the image build with the image's own Node. With it, the
// functions a start runs are read back instead of parsed and compiled. V8 checks the cache
// against its own version, its flags and the source; a cache that does not match is rejected
// and the bundle compiles from source, as it would without one (the ready line says so).
//
// KUBEINCIDENT_CODE_CACHE=write is the training run: no cache is read, and once the function
// is ready the cache is written (next to main.cjs, through a temporary file) and the process
// exits.
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');

const main = join(__dirname, 'main.cjs');
const cacheFile = join(__dirname, 'main.cjs.cache');
const training = process.env.KUBEINCIDENT_CODE_CACHE === 'write';

let cachedData;
if (!training) {
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // No cache: compiled from source.
  }
}
// Node's own CommonJS wrapper, on main.cjs's first line so its line numbers stay as built.
const script = new Script(
  `(function (exports, require, module, __filename, __dirname) {${readFileSync(main, 'utf8')}\n})`,
  { filename: main, cachedData },
);
const codeCache = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted';
const bundle = { exports: {} };
script.runInThisContext()(bundle.exports, require, bundle, main, __dirname);

const writeCache = () => {
  const tmp = `${cacheFile}.${process.pid}`;
  writeFileSync(tmp, script.createCachedData());
  renameSync(tmp, cacheFile);
  process.exit(0);
};
bundle.exports.start({ codeCache, ...(training ? { training: writeCache } : {}) });
