// The incident destinations of the configuration file beyond Slack: a signed generic webhook,
// PagerDuty, Microsoft Teams (a Workflows webhook) and Jira Cloud. Each is served by its own
// function (dispatch-<type>); routes name them like any other destination.
import * as z from 'zod';
import { SEVERITIES } from '../issue.ts';

/**
 * A secret: its value (normally `${ENV_VAR}`, substituted when the file is read) or a file to
 * read it from (`{file: /var/run/secrets/...}`, a mounted Secret), read by the function.
 * Never logged either way.
 */
export const Secret = z.union([
  z.string().min(1),
  z.strictObject({ file: z.string().min(1, 'expected the path of a file holding the secret') }),
]);
export type Secret = z.infer<typeof Secret>;

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
// Headers the signature and the body own: a custom header must not replace them.
const RESERVED_HEADERS = new Set([
  'content-type',
  'content-length',
  'host',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);
const CustomHeaders = z
  .record(
    z.string(),
    z.string().refine((v) => !/[\r\n]/.test(v), { message: 'a header value cannot hold a line break' }),
  )
  .superRefine((headers, ctx) => {
    for (const name of Object.keys(headers)) {
      if (!HEADER_NAME.test(name))
        ctx.addIssue({ code: 'custom', path: [name], message: 'expected an HTTP header name' });
      else if (RESERVED_HEADERS.has(name.toLowerCase()))
        ctx.addIssue({ code: 'custom', path: [name], message: 'this header is set by the webhook itself' });
    }
  })
  .default({});

const Name = z.string().min(1);
const SeverityMap = <T extends z.ZodType>(value: T) => z.partialRecord(z.enum(SEVERITIES), value).default({});

/** Standard Webhooks secrets are `whsec_` and base64; a plain string is taken as its bytes. */
export const WebhookDestination = z.strictObject({
  name: Name,
  type: z.literal('webhook'),
  url: z.url({ protocol: /^https?$/ }),
  secret: Secret.optional(),
  headers: CustomHeaders,
});

export const PAGERDUTY_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export const PagerDutyDestination = z.strictObject({
  name: Name,
  type: z.literal('pagerduty'),
  /** The integration's routing key (Events API v2). */
  routingKey: Secret,
  apiUrl: z.url().default('https://events.pagerduty.com'),
  /** Our severities to PagerDuty's; unset ones: HIGH critical, LOW warning, INFO and DEBUG info. */
  severity: SeverityMap(z.enum(PAGERDUTY_SEVERITIES)),
});

export const TeamsDestination = z.strictObject({
  name: Name,
  type: z.literal('teams'),
  /** The Workflows (Power Automate) "When a Teams webhook request is received" URL: it carries its own signature. */
  url: Secret,
  /** Teams refuses larger payloads (about 28 KB); cards are cut to fit and say so. */
  maxBytes: z.number().int().min(4096).max(28_000).default(27_000),
});

export const JiraDestination = z.strictObject({
  name: Name,
  type: z.literal('jira'),
  /** The site, e.g. https://example.atlassian.net */
  url: z.url({ protocol: /^https?$/ }),
  email: z.string().min(1),
  apiToken: Secret,
  project: z.string().min(1),
  issueType: z.string().min(1).default('Bug'),
  labels: z.array(z.string().regex(/^\S+$/, 'a Jira label cannot hold spaces')).default(['kubeincident']),
  /** Our severities to Jira priority names; unset ones leave the project's default priority. */
  priorities: SeverityMap(z.string().min(1)),
  /** The status a resolved incident's issue moves to (a transition leading there must exist). */
  resolveStatus: z.string().min(1).default('Done'),
  /** The status a re-fired incident's issue moves back to (e.g. "To Do"); unset: it stays where it is. */
  reopenStatus: z.string().min(1).optional(),
  /** Re-fires commented per issue; past it re-fires and resolutions add no comment (resolutions still transition). */
  maxComments: z.number().int().nonnegative().max(100).default(10),
});

export const INCIDENT_DESTINATIONS = [
  WebhookDestination,
  PagerDutyDestination,
  TeamsDestination,
  JiraDestination,
] as const;

export type WebhookDestination = z.infer<typeof WebhookDestination>;
export type PagerDutyDestination = z.infer<typeof PagerDutyDestination>;
export type TeamsDestination = z.infer<typeof TeamsDestination>;
export type JiraDestination = z.infer<typeof JiraDestination>;
export type IncidentDestinationConfig =
  | WebhookDestination
  | PagerDutyDestination
  | TeamsDestination
  | JiraDestination;
export type IncidentDestinationType = IncidentDestinationConfig['type'];
