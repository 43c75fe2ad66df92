// The Redis side of the thread repository's open (threads.ts), run as one script after the
// store's takeToken function. KEYS: lock, data, storm counter, claim, bucket (an absent one is
// passed as the data key and never touched). ARGV[1]: one JSON object (ThreadScriptArg); its
// optional parts are present only when asked for. It spans keys of several hash tags, so it runs
// only where there are no shards (single server, Sentinel). Redis refuses it whole when out of
// memory: its first write is the lock.

/** The script's argument, as JSON; absent parts are left out, never null. */
export interface ThreadScriptArg {
  token: string;
  lockTtlMs: number;
  peek?: { status: string; firingSince: string };
  storm?: { ttlSeconds: number; threshold: number };
  attempt?: { value: string; ttlSeconds: number };
  claim?: { value: string; ttlSeconds: number };
  bucket?: { intervalMs: number; burst: number; nowMs: number; count: number; maxWaitMs: number };
}

/**
 * {locked (0, 1, or 2: taken and given back), value, storm count (-1: not counted), claim
 * (0: not asked, 1: claimed, 2: held by `holder`), holder, bucket wait (-1: not asked),
 * attempt written (0/1)}. A known thread answers only the first two.
 */
export type ThreadScriptReply = [number, string | null, number?, number?, (string | null)?, number?, number?];

export const THREAD_OPEN_LUA = `local a = cjson.decode(ARGV[1])
local ok = redis.call('SET', KEYS[1], a.token, 'NX', 'PX', a.lockTtlMs)
local v = redis.call('GET', KEYS[2])
if not ok then return {0, v} end
if v then
  if a.peek then
    local okj, s = pcall(cjson.decode, v)
    if okj and type(s) == 'table' and s.settled == true and s.status == a.peek.status
      and s.firingSince == a.peek.firingSince then
      redis.call('DEL', KEYS[1])
      return {2, v}
    end
  end
  return {1, v}
end
local storm = -1
if a.storm then
  storm = redis.call('INCR', KEYS[3])
  if redis.call('TTL', KEYS[3]) < 0 then redis.call('EXPIRE', KEYS[3], a.storm.ttlSeconds) end
  if storm > a.storm.threshold then return {1, false, storm, 0, false, -1, 0} end
end
local marked = 0
if a.attempt then
  redis.call('SET', KEYS[2], a.attempt.value, 'EX', a.attempt.ttlSeconds)
  marked = 1
end
local claimed, holder = 0, false
if a.claim then
  if redis.call('SET', KEYS[4], a.claim.value, 'NX', 'EX', a.claim.ttlSeconds) then claimed = 1
  else claimed = 2; holder = redis.call('GET', KEYS[4]) end
end
local bucket = -1
if a.bucket then
  local b = a.bucket
  bucket = takeToken(KEYS[5], b.intervalMs, b.burst, b.nowMs, b.count, b.maxWaitMs)
end
return {1, false, storm, claimed, holder, bucket, marked}`;
