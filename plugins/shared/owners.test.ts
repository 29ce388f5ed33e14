import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMasqRuleOf, masqNote, masqOwner } from './owners.js';

test("a masquerade rule is its network's by its note, exactly, even when two names share their first 32 characters", () => {
  const a = `net-${'x'.repeat(40)}`;
  const b = `${a}-2`;
  assert.equal(masqOwner(a, 'c1', 'eth0').split(':')[1], masqOwner(b, 'c1', 'eth0').split(':')[1], 'the readable parts agree');
  const ruleA = { owner: masqOwner(a, 'c1', 'eth0'), text: masqNote(a) };
  assert.equal(isMasqRuleOf(a, ruleA), true);
  assert.equal(isMasqRuleOf(b, ruleA), false);
  assert.equal(isMasqRuleOf(a, { owner: 'ports:c1:eth0', text: masqNote(a) }), false, "another owner's rule is never one");
});

test('a rule without a note (made before notes) is recognised by its owner only where that is exact', () => {
  assert.equal(isMasqRuleOf('web', { owner: masqOwner('web', 'c1', 'eth0'), text: '' }), true);
  assert.equal(isMasqRuleOf('we', { owner: masqOwner('web', 'c1', 'eth0'), text: '' }), false);
  const long = 'n'.repeat(32);
  assert.equal(
    isMasqRuleOf(long, { owner: masqOwner(long, 'c1', 'eth0'), text: '' }),
    false,
    'a 32-character name may be a cut longer one',
  );
});
