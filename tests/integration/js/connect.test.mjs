// CONNECT with MQTT.js: 5.0 and 3.1.1, CONNACK contents.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, connect, startBroker, uid } from './roadmq.mjs';

describe('connect (MQTT.js)', () => {
  let broker;
  const clients = [];
  before(async () => { broker = await startBroker(); });
  after(async () => { await closeAll(clients); await broker.stop(); });

  test('MQTT 5.0: CONNACK 0x00, session present 0, limits announced [MQTT-3.2.2-2]', async () => {
    const c = await connect(broker, { clientId: uid('v5') });
    clients.push(c);
    assert.equal(c.connack.reasonCode, 0);
    assert.equal(c.connack.sessionPresent, false);
    assert.equal(c.connack.properties?.topicAliasMaximum, 65535);
    assert.equal(c.connack.properties?.maximumPacketSize, 1024 * 1024);
  });

  test('MQTT 3.1.1: CONNACK return code 0 [MQTT-3.2.2-1 (3.1.1)]', async () => {
    const c = await connect(broker, { clientId: uid('v311'), protocolVersion: 4 });
    clients.push(c);
    assert.equal(c.connack.returnCode, 0);
    assert.equal(c.connack.sessionPresent, false);
  });

  test('MQTT 5.0: empty client id gets an Assigned Client Identifier [MQTT-3.2.2-16]', async () => {
    const c = await connect(broker, { clientId: '' });
    clients.push(c);
    assert.ok(c.connack.properties?.assignedClientIdentifier);
  });

  test('persistent session: session present on return [MQTT-3.2.2-3]', async () => {
    const id = uid('persist');
    const opts = { clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } };
    const first = await connect(broker, opts);
    await first.subscribeAsync(`js/${id}`, { qos: 1 });
    await first.endAsync();
    const again = await connect(broker, opts);
    clients.push(again);
    assert.equal(again.connack.sessionPresent, true);
  });
});
