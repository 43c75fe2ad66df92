// REDIS_URL forms: one server (`redis://`, `rediss://`), a Redis Cluster
// (`redis+cluster://h1:p1,h2:p2`) or a Sentinel-managed master
// (`redis+sentinel://h1:p1,h2:p2/<master>`), parsed without ioredis so bad settings fail at start.

export interface RedisAddress {
  host: string;
  port: number;
}

interface Credentials {
  username?: string;
  password?: string;
  /** TLS to every node (the `rediss` forms). */
  tls: boolean;
}

export type RedisTarget =
  | ({ mode: 'single'; url: string } & Credentials)
  | ({ mode: 'cluster'; nodes: RedisAddress[] } & Credentials)
  | ({
      mode: 'sentinel';
      sentinels: RedisAddress[];
      /** The master's name as the sentinels know it (`sentinel monitor <name> ...`). */
      masterName: string;
      sentinelUsername?: string;
      sentinelPassword?: string;
    } & Credentials);

const FORM = /^(rediss?)(?:\+(cluster|sentinel))?:\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/;

export const REDIS_URL_FORMS =
  'redis://[user:password@]host:port[/db], rediss://…, redis+cluster://[user:password@]host:port,host:port, ' +
  'redis+sentinel://[user:password@]host:port,host:port/<master>[?sentinelPassword=…] (rediss+… for TLS)';

function parseAddress(raw: string, defaultPort: number): RedisAddress {
  // [::1]:7000, host:7000 or host alone.
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(raw.trim());
  const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
  const host = m?.[1] ?? m?.[2];
  if (!host || port < 1 || port > 65535) throw new RangeError(`REDIS_URL has an invalid host "${raw}"`);
  return { host, port };
}

/** Parses REDIS_URL; throws a RangeError naming the accepted forms (never echoing the password). */
export function parseRedisUrl(url: string): RedisTarget {
  const m = FORM.exec(url.trim());
  if (!m) throw new RangeError(`REDIS_URL must be one of: ${REDIS_URL_FORMS}`);
  const [, scheme, topology, userinfo, hostList = '', path = '', query = ''] = m;
  const tls = scheme === 'rediss';
  if (!topology) return { mode: 'single', url: url.trim(), tls };

  const creds: Credentials = { tls };
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    const user = decodeURIComponent(colon === -1 ? userinfo : userinfo.slice(0, colon));
    if (colon === -1) creds.password = user;
    else {
      if (user) creds.username = user;
      creds.password = decodeURIComponent(userinfo.slice(colon + 1));
    }
  }
  const hosts = hostList.split(',').filter((h) => h.trim() !== '');
  if (hosts.length === 0) throw new RangeError(`REDIS_URL lists no hosts; forms: ${REDIS_URL_FORMS}`);
  const params = new URLSearchParams(query);

  if (topology === 'cluster') {
    if (path !== '' && path !== '/')
      throw new RangeError('REDIS_URL: a Redis Cluster has no database number');
    return { mode: 'cluster', nodes: hosts.map((h) => parseAddress(h, 6379)), ...creds };
  }
  const masterName = decodeURIComponent(path.replace(/^\//, ''));
  if (!masterName || masterName.includes('/'))
    throw new RangeError('REDIS_URL: redis+sentinel:// needs the master name as its path (…/mymaster)');
  const target: RedisTarget = {
    mode: 'sentinel',
    sentinels: hosts.map((h) => parseAddress(h, 26379)),
    masterName,
    ...creds,
  };
  const sentinelUsername = params.get('sentinelUsername');
  const sentinelPassword = params.get('sentinelPassword');
  if (sentinelUsername) target.sentinelUsername = sentinelUsername;
  if (sentinelPassword) target.sentinelPassword = sentinelPassword;
  return target;
}
