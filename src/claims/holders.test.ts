import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { holderKey } from './holders.ts';

describe('holderKey', () => {
  it('is namespace/name, whatever the display field says', () => {
    assert.equal(holderKey({ namespace: 'shop', name: 'web' }), 'shop/web');
    assert.equal(holderKey({ namespace: 'shop', name: 'web', service: 'shop/web' }), 'shop/web');
    // A display field that is not exactly namespace/name is never taken for the key.
    for (const service of ['shop/other', 'sho/pweb', 'shop-web', 'shop/web ', '', 'x/shop/web', 'shopweb/']) {
      assert.equal(holderKey({ namespace: 'shop', name: 'web', service }), 'shop/web', service);
    }
    assert.equal(holderKey({ namespace: 'a', name: 'b/c', service: 'a/b/c' }), 'a/b/c');
  });
});
