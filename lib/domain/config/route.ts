// Routing: which destinations (and Slack channels) an issue goes to. Routes are tried in order;
// the first match ends the search unless it says `continue`; the default route catches the rest.
import type { Issue } from '../issue.ts';
import { routeMatches } from './match.ts';
import type { Config, DestinationConfig } from './schema.ts';

export interface RoutedDestination {
  destination: DestinationConfig;
  /** For Slack: the channel ID to post in (a label or annotation may override the destination's). */
  channel?: string;
}

const CHANNEL_ID = /^[CG][A-Z0-9]{2,}$/;

/**
 * `fallback` stands for the destination configured by environment (SLACK_BOT_TOKEN +
 * SLACK_CHANNEL, or the terminal); it is what the name `default` means in routes.
 */
export function routeIssue(issue: Issue, config: Config, fallback: DestinationConfig): RoutedDestination[] {
  const byName = new Map(config.destinations.map((d) => [d.name, d] as const));
  const resolve = (name: string) =>
    name === 'default' && !byName.has('default') ? fallback : byName.get(name);
  const out: RoutedDestination[] = [];
  const seen = new Set<string>();
  const push = (d: DestinationConfig | undefined, channel?: string) => {
    if (!d) return;
    const ch = d.type === 'slack' ? (channel ?? d.channel) : undefined;
    const key = `${d.name}|${ch ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(ch === undefined ? { destination: d } : { destination: d, channel: ch });
  };
  // A workload change goes only where its change-tracking rule says (k8s-event-ingest put the
  // rule's destination on it); routes are for incidents.
  if (issue.type === 'change') {
    push(resolve(issue.labels.changedestination ?? ''));
    return out;
  }
  for (const route of config.routes) {
    if (!routeMatches(route.match, issue)) continue;
    const fromLabel = route.channelFromLabel ? issue.labels[route.channelFromLabel] : undefined;
    const fromAnnotation = route.channelFromAnnotation
      ? issue.annotations[route.channelFromAnnotation]
      : undefined;
    // Only a channel ID is accepted from alert data (chat.update needs the ID, and a name could
    // point anywhere); anything else falls back to the destination's own channel.
    const channel = [fromLabel, fromAnnotation].find((c) => c !== undefined && CHANNEL_ID.test(c));
    for (const name of route.destinations) push(resolve(name), channel);
    if (!route.continue) return out;
  }
  if (out.length) return out;
  for (const name of config.defaultRoute?.destinations ?? ['default']) push(resolve(name));
  return out;
}
