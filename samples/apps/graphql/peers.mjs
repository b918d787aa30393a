// GraphQL over WebSocket, both protocols, real servers and clients over loopback:
//  * graphql-transport-ws: the `graphql-ws` package (useServer on `ws`, createClient with `ws`)
//    on PORT_NEW: a query, a mutation, a subscription with three `next` then `complete`, a
//    subscription the client cancels (client `complete`), a validation error (`error`), a
//    resolver error (a `next` carrying errors), and keep-alive pings every 150 ms.
//  * graphql-ws (old): `subscriptions-transport-ws` SubscriptionServer and SubscriptionClient on
//    PORT_OLD: keep-alive `ka` every 150 ms, a query, a subscription with several `data` then
//    `complete`, a subscription the client stops, then connection_terminate.
// Each end logs every WebSocket message it sent and received (JSON lines in graphql.log:
// {proto, side, dir, t, text}): the test's truth.
import { createServer } from 'node:http';
import fs from 'node:fs';
import { WebSocketServer, WebSocket } from 'ws';
import { buildSchema, execute, subscribe } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createClient } from 'graphql-ws';
import pkg from 'subscriptions-transport-ws';
const { SubscriptionServer, SubscriptionClient } = pkg;

const PORT_NEW = Number(process.env.PORT_NEW || 35681);
const PORT_OLD = Number(process.env.PORT_OLD || 35682);
const log = fs.createWriteStream(process.env.LOG || 'graphql.log');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stop = setTimeout(() => { console.error('timeout'); process.exit(3); }, 20000);

function watch(sock, proto, side) {
  const send = sock.send.bind(sock);
  sock.send = (data, ...rest) => {
    log.write(JSON.stringify({ proto, side, dir: 'sent', t: Date.now(), text: String(data) }) + '\n');
    return send(data, ...rest);
  };
  sock.on('message', (data) => {
    log.write(JSON.stringify({ proto, side, dir: 'received', t: Date.now(), text: String(data) }) + '\n');
  });
}

const schema = buildSchema(`
  type Post { id: ID!, title: String! }
  type Query { hello(name: String): String, boom: String }
  type Mutation { addPost(title: String!): Post }
  type Subscription { countdown(from: Int!): Int, ticks: Int }
`);
let posts = 0;
const root = {
  hello: ({ name }) => `hello ${name ?? 'world'}`,
  boom: () => { throw new Error('the resolver failed'); },
  addPost: ({ title }) => ({ id: String(++posts), title }),
  countdown: async function* ({ from }) {
    for (let i = from; i >= 1; i--) { await sleep(30); yield { countdown: i }; }
  },
  ticks: async function* () {
    for (let i = 1; i <= 1000; i++) { await sleep(40); yield { ticks: i }; }
  },
};

// --- graphql-transport-ws -------------------------------------------------------------
async function newProtocol() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: PORT_NEW, path: '/graphql' });
  wss.on('connection', (sock) => watch(sock, 'graphql-transport-ws', 'server'));
  const server = useServer({ schema, roots: { query: root, mutation: root, subscription: root } }, wss);
  await new Promise((r) => wss.on('listening', r));
  class Logged extends WebSocket {
    constructor(...a) { super(...a); watch(this, 'graphql-transport-ws', 'client'); }
  }
  const client = createClient({ url: `ws://127.0.0.1:${PORT_NEW}/graphql`, webSocketImpl: Logged, keepAlive: 150, lazy: false, retryAttempts: 0 });
  const run = (payload) => new Promise((resolve) => {
    const got = [];
    client.subscribe(payload, { next: (v) => got.push(v), error: (e) => resolve({ got, error: e }), complete: () => resolve({ got }) });
  });
  console.log(JSON.stringify(await run({ query: 'query Hello($name: String) {\n  hello(name: $name)\n}', operationName: 'Hello', variables: { name: 'graphql' } })));
  console.log(JSON.stringify(await run({ query: 'mutation AddPost($title: String!) { addPost(title: $title) { id title } }', variables: { title: 'First' } })));
  console.log(JSON.stringify(await run({ query: 'subscription Countdown { countdown(from: 3) }', operationName: 'Countdown' })));
  // Cancelled by the client after two ticks: the client sends `complete`.
  await new Promise((resolve) => {
    let n = 0;
    const cancel = client.subscribe({ query: 'subscription { ticks }' }, {
      next: () => { if (++n === 2) { cancel(); resolve(); } }, error: resolve, complete: resolve,
    });
  });
  console.log(JSON.stringify(await run({ query: '{ nope }' })));
  console.log(JSON.stringify(await run({ query: '{ boom }' })));
  await sleep(400); // keep-alive pings
  await client.dispose();
  await server.dispose();
  await new Promise((r) => wss.close(r));
}

// --- graphql-ws (subscriptions-transport-ws) ------------------------------------------
async function oldProtocol() {
  const http = createServer();
  const old = SubscriptionServer.create(
    { schema, execute, subscribe, rootValue: root, keepAlive: 150 },
    { server: http, path: '/subscriptions' },
  );
  old.wsServer.on('connection', (sock) => watch(sock, 'graphql-ws', 'server'));
  await new Promise((r) => http.listen(PORT_OLD, '127.0.0.1', r));
  class Logged extends WebSocket {
    constructor(...a) { super(...a); watch(this, 'graphql-ws', 'client'); }
  }
  const client = new SubscriptionClient(`ws://127.0.0.1:${PORT_OLD}/subscriptions`, { reconnect: false }, Logged);
  const run = (req) => new Promise((resolve) => {
    const got = [];
    client.request(req).subscribe({ next: (v) => got.push(v), error: (e) => resolve({ got, error: String(e) }), complete: () => resolve({ got }) });
  });
  console.log(JSON.stringify(await run({ query: 'query Hello { hello(name: "old") }', operationName: 'Hello' })));
  console.log(JSON.stringify(await run({ query: 'subscription Countdown($from: Int!) { countdown(from: $from) }', variables: { from: 3 }, operationName: 'Countdown' })));
  await new Promise((resolve) => {
    let n = 0;
    const sub = client.request({ query: 'subscription { ticks }' }).subscribe({
      next: () => { if (++n === 2) { sub.unsubscribe(); resolve(); } },
    });
  });
  await sleep(400); // keep-alives
  client.close();
  await sleep(100);
  old.close();
  http.close();
}

await newProtocol();
await oldProtocol();
clearTimeout(stop);
log.end();
