import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestKind } from './server.ts';

describe('lab requestKind (request counts by kind, for benches)', () => {
  it('names the resource and subresource without object names or namespaces', () => {
    assert.equal(requestKind('PATCH', '/api/v1/namespaces/ns1/services/web/status?fieldManager=x'), 'PATCH services/status');
    assert.equal(requestKind('POST', '/apis/metallb.io/v1beta1/namespaces/ns1/ipaddressclaims'), 'POST ipaddressclaims.metallb.io');
    assert.equal(requestKind('PUT', '/apis/metallb.io/v1beta1/namespaces/ns1/ipaddressclaims/v4-192-0-2-1'), 'PUT ipaddressclaims.metallb.io');
    assert.equal(requestKind('POST', '/api/v1/namespaces/ns1/events'), 'POST events');
  });
  it('tells a list from a get, and a watch from both', () => {
    assert.equal(requestKind('GET', '/api/v1/namespaces/ns1/services'), 'LIST services');
    assert.equal(requestKind('GET', '/api/v1/namespaces/ns1/services/web'), 'GET services');
    assert.equal(requestKind('GET', '/api/v1/services?watch=true&resourceVersion=5'), 'WATCH services');
    assert.equal(requestKind('GET', '/api/v1/namespaces'), 'LIST namespaces');
    assert.equal(requestKind('GET', '/api/v1/namespaces/ns1'), 'GET namespaces');
  });
  it('keeps other paths as they are', () => {
    assert.equal(requestKind('GET', '/version'), 'GET /version');
    assert.equal(requestKind('GET', '/apis'), 'GET /apis');
  });
});
