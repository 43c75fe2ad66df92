// Node 24 strips TypeScript types natively, so tests run from source with no build step.
export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  timeout: '2m',
  concurrency: 2,
  workerThreads: false,
};
