// JSON-RPC 2.0 over WebSocket with the `json-rpc-2.0` npm package on both ends (`ws` carries
// it): each end is a JSONRPCServerAndClient, so the server also calls the client.
// Client → server: requests (sum, echo), a notification (log), a batch of two requests and a
// notification, an unknown method (-32601 Method not found), an application error (code 1001).
// Server → client: a request (confirm) the client answers, and notifications (tick events).
// Both ends log every message they sent and received as JSON lines in jsonrpc.log:
// {side, dir: "sent"|"received", t, text}: the test's truth.
import { JSONRPCServerAndClient, JSONRPCServer, JSONRPCClient, JSONRPCErrorException } from 'json-rpc-2.0';
import { WebSocketServer, WebSocket } from 'ws';
import fs from 'node:fs';

const PORT = Number(process.env.PORT || 35680);
const log = fs.createWriteStream(process.env.LOG || 'jsonrpc.log');
const note = (side, dir, text) => log.write(JSON.stringify({ side, dir, t: Date.now(), text }) + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stop = setTimeout(() => { console.error('timeout'); process.exit(3); }, 15000);

function peer(side, ws) {
  const p = new JSONRPCServerAndClient(
    new JSONRPCServer(),
    new JSONRPCClient((payload) => {
      const text = JSON.stringify(payload);
      note(side, 'sent', text);
      ws.send(text);
    }),
  );
  ws.on('message', (data) => {
    const text = data.toString();
    note(side, 'received', text);
    p.receiveAndSend(JSON.parse(text));
  });
  ws.on('close', () => p.rejectAllPendingRequests('closed'));
  return p;
}

// receiveAndSend sends the server's answers through the client's send function, so they are
// logged too.
const wss = new WebSocketServer({ host: '127.0.0.1', port: PORT });
const serverDone = new Promise((resolve) => {
  wss.on('connection', async (ws) => {
    const s = peer('server', ws);
    s.addMethod('sum', ([a, b]) => a + b);
    s.addMethod('echo', (params) => params);
    s.addMethod('log', () => undefined);
    s.addMethod('withdraw', () => { throw new JSONRPCErrorException('insufficient funds', 1001, { balance: 3 }); });
    s.addMethod('start_ticks', async () => {
      const ok = await s.request('confirm', { question: 'start ticks?' });
      for (let i = 1; i <= 3; i++) s.notify('tick', { n: i, ok });
      return 'started';
    });
    ws.on('close', resolve);
  });
});

await new Promise((r) => wss.on('listening', r));
const ws = new WebSocket(`ws://127.0.0.1:${PORT}/rpc`);
await new Promise((r) => ws.on('open', r));
const c = peer('client', ws);
c.addMethod('confirm', () => true);
c.addMethod('tick', () => undefined);

console.log('sum', await c.request('sum', [1, 2]));
console.log('echo', await c.request('echo', { text: 'héllo', list: [1, 2, 3] }));
c.notify('log', { level: 'info', message: 'client started' });
const batch = await c.requestAdvanced([
  { jsonrpc: '2.0', method: 'sum', params: [10, 20], id: 100 },
  { jsonrpc: '2.0', method: 'echo', params: ['batched'], id: 'b-2' },
  { jsonrpc: '2.0', method: 'log', params: { message: 'in a batch' } },
]);
console.log('batch', JSON.stringify(batch));
try { await c.request('no_such_method', []); } catch (e) { console.log('error', e.code, e.message); }
try { await c.request('withdraw', { amount: 5 }); } catch (e) { console.log('error', e.code, e.message); }
console.log('start_ticks', await c.request('start_ticks', {}));
await sleep(200);
ws.close(1000, 'done');
await serverDone;
wss.close();
clearTimeout(stop);
log.end();
