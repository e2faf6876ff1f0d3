// Will messages with MQTT.js.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, closed, connect, startBroker, uid } from './roadmq.mjs';

describe('will (MQTT.js)', () => {
  let broker;
  const clients = [];
  before(async () => { broker = await startBroker(); });
  after(async () => { await closeAll(clients); await broker.stop(); });

  for (const protocolVersion of [4, 5]) {
    test(`v${protocolVersion === 5 ? '5' : '3.1.1'}: will published on abnormal close [MQTT-3.1.2-8]`, async () => {
      const topic = `js/${uid('will')}`;
      const watcher = await connect(broker, { protocolVersion });
      clients.push(watcher);
      await watcher.subscribeAsync(topic, { qos: 1 });
      const car = await connect(broker, {
        protocolVersion,
        will: { topic, payload: Buffer.from('offline'), qos: 1, retain: false },
      });
      // Destroy the socket: no DISCONNECT, as when a cellular link drops.
      car.stream.destroy();
      await closed(car);
      const m = await watcher.nextMessage();
      assert.equal(m.topic, topic);
      assert.equal(m.payload.toString(), 'offline');
      assert.equal(m.packet.qos, 1);
    });
  }

  test('no will after a normal DISCONNECT [MQTT-3.14.4-3]', async () => {
    const topic = `js/${uid('nowill')}`;
    const watcher = await connect(broker);
    clients.push(watcher);
    await watcher.subscribeAsync(topic, { qos: 1 });
    const car = await connect(broker, { will: { topic, payload: Buffer.from('must not appear'), qos: 1 } });
    await car.endAsync();
    // Marker through the same topic: a will would have been routed first
    // (the DISCONNECT was handled before endAsync resolved on close).
    const pub = await connect(broker);
    clients.push(pub);
    await pub.publishAsync(topic, 'marker', { qos: 1 });
    assert.equal((await watcher.nextMessage()).payload.toString(), 'marker');
  });

  test('will properties forwarded (5.0) [MQTT-3.3.2-17]', async () => {
    const topic = `js/${uid('willprops')}`;
    const watcher = await connect(broker);
    clients.push(watcher);
    await watcher.subscribeAsync(topic, { qos: 1 });
    const car = await connect(broker, {
      will: {
        topic, payload: Buffer.from('{"online":false}'), qos: 1,
        properties: { contentType: 'application/json', userProperties: { vin: 'V1' } },
      },
    });
    car.stream.destroy();
    const m = await watcher.nextMessage();
    assert.equal(m.packet.properties?.contentType, 'application/json');
    assert.deepEqual({ ...m.packet.properties?.userProperties }, { vin: 'V1' });
  });
});
