/**
 * Loopback ports for agents the caller starts. A gossip agent binds the same port number for
 * TCP and UDP (memberlist's transport), so a port is handed out only when both are free; ports
 * already handed out by this process are never handed out again (TIME_WAIT, and agents that
 * have not bound yet).
 */
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

const handedOut = new Set<number>();

function tcpFree(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(null));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind({ address: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1 free for both TCP and UDP right now. */
export async function freeLoopbackPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tcpFree(0);
    if (port === null || handedOut.has(port)) continue;
    if (!(await udpFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('ports: no loopback port free for both TCP and UDP after 50 attempts');
}

/** Whether something listens on (or holds) `port` on 127.0.0.1, for TCP or UDP. */
export async function portInUse(port: number): Promise<boolean> {
  return (await tcpFree(port)) === null || !(await udpFree(port));
}
