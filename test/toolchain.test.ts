import test from 'ava';
import { CloudEvent, HTTP } from 'cloudevents';
import { z } from 'zod';

test('toolchain: tests run on Node 24 with zod and the CloudEvents SDK loading from TypeScript source', (t) => {
  const s = z.object({ a: z.string() });
  t.is(s.parse({ a: 'x' }).a, 'x');
  const ce = new CloudEvent({ type: 't', source: 's', data: { a: 1 } });
  t.truthy(HTTP.binary(ce).headers);
  t.is(process.versions.node.split('.')[0], '24');
});
