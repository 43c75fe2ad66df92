// The configuration without a file: what Config.parse({}) yields, written out so a function
// without CONFIG_FILE never builds the configuration's zod schema (a test keeps the two equal).
import type { Config } from './schema.ts';

export const DEFAULT_CONFIG: Config = {
  workflows: {
    alertEnrichment: {
      defaultEnricher: {
        enabled: true,
        alertAnnotationsEnrichment: true,
      },
      alertExplanation: {
        enabled: true,
        overrides: {},
      },
      template: {
        enabled: true,
      },
    },
    podTroubleshooting: {
      podInvestigator: {
        enabled: true,
      },
      podLogs: {
        enabled: true,
        tailLines: 100,
      },
      podEvents: {
        enabled: true,
      },
      imagePullBackoff: {
        enabled: true,
      },
      evicted: {
        enabled: true,
      },
      pending: {
        enabled: true,
      },
    },
    oomKiller: {
      podOomKillerEnricher: {
        enabled: true,
        attachLogs: true,
      },
    },
    nodeHealth: {
      nodeStatus: {
        enabled: true,
      },
      nodeAllocatable: {
        enabled: true,
      },
      nodeRunningPods: {
        enabled: true,
      },
    },
    eventHandling: {
      enabled: true,
    },
  },
  customWorkflows: [],
  codeWorkflows: {
    timeoutMs: 2000,
    memoryMiB: 32,
    resultKiB: 64,
    mentionIds: [],
    allowHosts: {},
    allowLoopback: false,
  },
  silences: [],
  destinations: [],
  routes: [],
  prometheus: {
    enabled: false,
    headers: {},
    timeout: 5,
    matchers: [],
    memory: { enabled: true, before: 3 * 3600, after: 15 * 60 },
    cpuThrottling: { enabled: true, window: 3600 },
    alertGraph: { enabled: true, window: 3600, topSeries: 8 },
    volumes: { enabled: true, window: 6 * 3600, trend: 6 * 3600 },
    targetDown: { enabled: true, window: 3600 },
    nodes: { enabled: true, window: 3 * 3600, trend: 6 * 3600 },
    overcommit: { enabled: true, window: 6 * 3600, topNamespaces: 6 },
  },
  changeTracking: { rules: [] },
};
