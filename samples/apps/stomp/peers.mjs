// STOMP over WebSocket with @stomp/stompjs (Node, `ws`) against RabbitMQ's Web-STOMP plugin.
// Session 1 (subprotocols v12/v11/v10.stomp offered): subscribe with ack mode client and a
// receipt, send both ways (the client sends to a queue it is subscribed to and to a topic the
// broker publishes back), ACK and NACK, a transaction, a body holding NUL, heart-beats (the
// client offers 500 ms, RabbitMQ answers 1000 ms), unsubscribe,
// disconnect with receipt. Session 2 (no subprotocol, so wsdissect must recognise STOMP from
// the CONNECT frame): a SEND to an invalid destination, answered by an ERROR.
// stompjs's own raw log (logRawCommunication) of every frame it sent (>>>) and received (<<<)
// goes to stomp.log as JSON lines {session, t, line}: the test's truth.
import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';
import fs from 'node:fs';

const URL = `ws://127.0.0.1:${process.env.PORT || 35674}/ws`;
const log = fs.createWriteStream(process.env.LOG || 'stomp.log');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function client(session, protocols) {
  const c = new Client({
    webSocketFactory: () => (protocols ? new WebSocket(URL, protocols) : new WebSocket(URL)),
    connectHeaders: { login: 'guest', passcode: 'guest', host: '/' },
    heartbeatIncoming: session === 1 ? 500 : 0,
    heartbeatOutgoing: session === 1 ? 500 : 0,
    reconnectDelay: 0,
    logRawCommunication: true,
    debug: (line) => log.write(JSON.stringify({ session, t: Date.now(), line }) + '\n'),
  });
  return c;
}

function connect(c) {
  return new Promise((resolve, reject) => {
    c.onConnect = resolve;
    c.onStompError = (f) => reject(new Error(f.headers.message));
    c.activate();
  });
}

async function session1() {
  const c = client(1, ['v12.stomp', 'v11.stomp', 'v10.stomp']);
  await connect(c);
  const got = [];
  const subReceipt = new Promise((r) => c.watchForReceipt('sub-receipt-1', r));
  const sub = c.subscribe(
    '/queue/stompgql',
    (m) => {
      got.push(m);
      if (got.length % 2 === 1) m.ack();
      else m.nack({ requeue: 'false' });
    },
    { ack: 'client', receipt: 'sub-receipt-1', id: 'sub-0' },
  );
  await subReceipt;
  const topic = c.subscribe('/topic/news', () => {}, { id: 'sub-1' });
  for (let i = 1; i <= 3; i++) {
    const rcpt = new Promise((r) => c.watchForReceipt(`send-${i}`, r));
    c.publish({
      destination: '/queue/stompgql',
      body: `hello ${i}`,
      headers: { receipt: `send-${i}`, 'x-seq': String(i), 'x-note': 'a:b\nc' },
    });
    await rcpt;
  }
  c.publish({ destination: '/topic/news', body: JSON.stringify({ headline: 'STOMP works' }), headers: { 'content-type': 'application/json' } });
  const tx = c.begin('tx-1');
  c.publish({ destination: '/queue/stompgql', body: 'in a transaction', headers: { transaction: tx.id } });
  tx.commit();
  // A NUL inside a body: stompjs sends content-length, so the frame does not end at it.
  // (A binary body is not sent: RabbitMQ 3.10 forwards it in a text message, which the
  // client then closes with 1007.)
  c.publish({ destination: '/topic/news', body: 'nul\u0000inside' });
  for (let i = 0; i < 40 && got.length < 4; i++) await sleep(50);
  await sleep(2500); // heart-beats both ways (negotiated to 1000 ms)
  sub.unsubscribe();
  topic.unsubscribe();
  // stompjs sends DISCONNECT with this receipt and closes once the RECEIPT comes.
  c.disconnectHeaders = { receipt: 'bye-1' };
  await Promise.race([c.deactivate(), sleep(2000)]);
  await sleep(200);
}

async function session2() {
  const c = client(2, null);
  await connect(c);
  const err = new Promise((r) => { c.onStompError = r; });
  c.publish({ destination: '/nowhere/at-all', body: 'lost', headers: { receipt: 'bad-1' } });
  await Promise.race([err, sleep(2000)]);
  await c.deactivate();
}

const stop = setTimeout(() => { console.error('timeout'); process.exit(3); }, 20000);
await session1();
await session2();
clearTimeout(stop);
log.end();
