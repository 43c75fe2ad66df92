// Preloaded (-r) into a bundle by test/bundles.test.ts: answers {type: 'modules'} on the IPC
// channel with the built-in modules the process has loaded so far.
process.on('message', (m) => {
  if (m && m.type === 'modules') process.send({ type: 'modules', list: process.moduleLoadList });
});
