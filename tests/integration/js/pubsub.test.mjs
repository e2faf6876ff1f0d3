// Publish/subscribe with MQTT.js: QoS 1/2 round trips on 5.0 and 3.1.1,
// user properties.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, connect, startBroker, uid } from './roadmq.mjs';

describe('publish/subscribe (MQTT.js)', () => {
  let broker;
  const clients = [];
  before(async () => { broker = await startBroker(); });
  after(async () => { await closeAll(clients); await broker.stop(); });

  for (const protocolVersion of [4, 5]) {
    for (const qos of [1, 2]) {
      test(`v${protocolVersion === 5 ? '5' : '3.1.1'} QoS ${qos} round trip [MQTT-3.8.4-8]`, async () => {
        const topic = `js/${uid('rt')}`;
        const sub = await connect(broker, { protocolVersion });
        const pub = await connect(broker, { protocolVersion });
        clients.push(sub, pub);
        const granted = await sub.subscribeAsync(topic, { qos });
        assert.equal(granted[0].qos, qos);
        await pub.publishAsync(topic, 'ping', { qos });
        const m = await sub.nextMessage();
        assert.equal(m.topic, topic);
        assert.equal(m.payload.toString(), 'ping');
        assert.equal(m.packet.qos, qos);
      });
    }
  }

  test('QoS is min(published, granted) [MQTT-3.8.4-8]', async () => {
    const topic = `js/${uid('min')}`;
    const sub = await connect(broker);
    const pub = await connect(broker);
    clients.push(sub, pub);
    await sub.subscribeAsync(topic, { qos: 1 });
    await pub.publishAsync(topic, 'two', { qos: 2 });
    assert.equal((await sub.nextMessage()).packet.qos, 1);
  });

  test('user properties, content type, correlation data forwarded [MQTT-3.3.2-17]', async () => {
    const topic = `js/${uid('props')}`;
    const sub = await connect(broker);
    const pub = await connect(broker);
    clients.push(sub, pub);
    await sub.subscribeAsync(topic, { qos: 1 });
    await pub.publishAsync(topic, '{}', {
      qos: 1,
      properties: {
        userProperties: { vin: 'LSVAU2180N2183294', tag: ['a', 'b'] },
        contentType: 'application/json',
        correlationData: Buffer.from('c-1'),
        responseTopic: `${topic}/reply`,
      },
    });
    const p = (await sub.nextMessage()).packet.properties;
    assert.deepEqual({ ...p.userProperties }, { vin: 'LSVAU2180N2183294', tag: ['a', 'b'] });
    assert.equal(p.contentType, 'application/json');
    assert.equal(p.correlationData.toString(), 'c-1');
    assert.equal(p.responseTopic, `${topic}/reply`);
  });

  test('wildcard subscription [MQTT-4.7.1-2]', async () => {
    const base = `js/${uid('wc')}`;
    const sub = await connect(broker);
    const pub = await connect(broker);
    clients.push(sub, pub);
    await sub.subscribeAsync(`${base}/+/up`, { qos: 1 });
    await pub.publishAsync(`${base}/car1/down`, 'no', { qos: 1 });
    await pub.publishAsync(`${base}/car1/up`, 'yes', { qos: 1 });
    const m = await sub.nextMessage();
    assert.equal(m.topic, `${base}/car1/up`);
  });
});
