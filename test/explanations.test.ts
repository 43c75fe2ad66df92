// The built-in explanations are text a user reads in Slack: written for that reader, never
// bent for the engine (an earlier change typed ASCII apostrophes so V8 kept one-byte strings).
import test from 'ava';
import { EXPLANATIONS } from '../lib/domain/config/explanations.ts';

test('explanations: apostrophes are typographic (’), as written for a reader', (t) => {
  const texts = Object.values(EXPLANATIONS).flatMap((e) => [e.explanation, ...e.nextSteps]);
  t.true(
    texts.some((s) => s.includes('’')),
    'the texts have apostrophes to check',
  );
  for (const text of texts) t.notRegex(text, /\w'|'\w/, text);
});
