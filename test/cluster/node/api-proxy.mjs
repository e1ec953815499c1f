// Forwards TCP connections from the real node's bridge address to the API server on loopback, so
// Pods reach it through the `kubernetes` Service while the API server itself stays bound to
// 127.0.0.1 (EndpointSlices refuse loopback addresses, and a Pod's 127.0.0.1 is its own).
// Usage: node api-proxy.mjs <listen host> <listen port> <target port> <state dir (for the pid check)>
import net from 'node:net';

const [host, port, target] = process.argv.slice(2);
const server = net.createServer((client) => {
  const upstream = net.connect(Number(target), '127.0.0.1');
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
});
server.listen(Number(port), host, () =>
  process.stdout.write(`forwarding ${host}:${port} -> 127.0.0.1:${target}\n`),
);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
