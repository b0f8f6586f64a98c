// Unit tests of the hash router (js/router.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRoute, hrefs } from '../../js/router.js';

const id = '3fa85f64-5717-4562-b3fc-2c963f66afa6';

test('routes', () => {
  assert.deepEqual(parseRoute(''), { screen: 'instances', params: {} });
  assert.deepEqual(parseRoute('#/'), { screen: 'instances', params: {} });
  assert.deepEqual(parseRoute(hrefs.instance(id)), { screen: 'instance', params: { id } });
  assert.deepEqual(parseRoute(hrefs.zones(id)), { screen: 'zones', params: { id } });
  assert.deepEqual(parseRoute(hrefs.export(id) + '/'), { screen: 'export', params: { id } });
  assert.equal(parseRoute('#/events').screen, 'events');
  assert.equal(parseRoute('#/cameras').screen, 'cameras');
  assert.equal(parseRoute('#/system?x=1').screen, 'system');
  assert.equal(parseRoute('#/instance/nope').screen, 'notfound');
});
