// Retained messages with MQTT.js.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, connect, startBroker, uid } from './roadmq.mjs';

describe('retained (MQTT.js)', () => {
  let broker;
  const clients = [];
  before(async () => { broker = await startBroker(); });
  after(async () => { await closeAll(clients); await broker.stop(); });

  for (const protocolVersion of [4, 5]) {
    test(`v${protocolVersion === 5 ? '5' : '3.1.1'}: stored, replaced, sent with RETAIN 1 [MQTT-3.3.1-5]`, async () => {
      const topic = `js/${uid('ret')}`;
      const pub = await connect(broker, { protocolVersion });
      clients.push(pub);
      await pub.publishAsync(topic, 'v1', { qos: 1, retain: true });
      await pub.publishAsync(topic, 'v2', { qos: 1, retain: true });
      const sub = await connect(broker, { protocolVersion });
      clients.push(sub);
      await sub.subscribeAsync(topic, { qos: 1 });
      const m = await sub.nextMessage();
      assert.equal(m.payload.toString(), 'v2');
      assert.equal(m.packet.retain, true);
      await pub.publishAsync(topic, '', { qos: 1, retain: true });
    });
  }

  test('empty payload deletes the retained message [MQTT-3.3.1-6]', async () => {
    const topic = `js/${uid('del')}`;
    const pub = await connect(broker);
    clients.push(pub);
    await pub.publishAsync(topic, 'gone soon', { qos: 1, retain: true });
    await pub.publishAsync(topic, '', { qos: 1, retain: true });
    const sub = await connect(broker);
    clients.push(sub);
    await sub.subscribeAsync(topic, { qos: 1 });
    // A live marker after the SUBACK arrives behind any retained message.
    await pub.publishAsync(topic, 'marker', { qos: 1 });
    const m = await sub.nextMessage();
    assert.equal(m.payload.toString(), 'marker');
    assert.equal(m.packet.retain, false);
  });

  test('retain handling 2: not sent on subscribe [MQTT-3.3.1-11]', async () => {
    const topic = `js/${uid('rh2')}`;
    const pub = await connect(broker);
    clients.push(pub);
    await pub.publishAsync(topic, 'kept', { qos: 1, retain: true });
    const sub = await connect(broker);
    clients.push(sub);
    await sub.subscribeAsync(topic, { qos: 1, rh: 2 });
    await pub.publishAsync(topic, 'marker', { qos: 1 });
    assert.equal((await sub.nextMessage()).payload.toString(), 'marker');
    await pub.publishAsync(topic, '', { qos: 1, retain: true });
  });
});
