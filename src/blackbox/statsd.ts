/**
 * A loopback statsd receiver: one UDP socket per agent (agents name metrics alike — "serf-agent."
 * plus, in some builds, the host name — so the socket tells them apart). It sums counters and
 * counts samples per metric. go-metrics' statsd sink sends lines "key:value|type", several per
 * datagram, one line per increment (no pre-aggregation), so for memberlist's byte counters the
 * number of lines is the number of packets or streams and the sum is the bytes.
 *
 * memberlist's own traffic metrics (memberlist net.go, net_transport.go):
 *   memberlist.udp.sent      one per UDP packet sent (compound messages included), value = bytes
 *   memberlist.udp.received  one per UDP packet read, value = bytes
 *   memberlist.tcp.sent      one per TCP stream message sent (push-pull, join, fallback ping)
 *   memberlist.tcp.accept / memberlist.tcp.connect  one per TCP connection
 *   memberlist.health.score  gauge: Lifeguard's local health (awareness) score
 *   memberlist.degraded.probe  counter: probes made while the score was above 0
 */
import { createSocket, type Socket } from 'node:dgram';

export interface MetricTotal {
  /** lines received (increments) */
  count: number;
  /** sum of their values */
  sum: number;
}

export interface MemberlistTraffic {
  /** UDP packets plus TCP stream messages sent */
  messagesSent: number;
  bytesSent: number;
  udpPacketsSent: number;
  udpBytesSent: number;
  tcpMessagesSent: number;
  tcpBytesSent: number;
  udpPacketsReceived: number;
  udpBytesReceived: number;
}

export class StatsdReceiver {
  readonly #socket: Socket;
  readonly port: number;
  /** metric name from "memberlist."/"serf."/"agent." on, prefixes (service, host) dropped */
  readonly totals = new Map<string, MetricTotal>();
  /** gauges (e.g. memberlist.health.score, Lifeguard's awareness): the largest value seen */
  readonly gaugeMax = new Map<string, number>();
  malformed = 0;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.port = socket.address().port;
    socket.on('message', (buf) => this.#ingest(buf.toString('utf8')));
  }

  static async start(): Promise<StatsdReceiver> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.removeListener('error', reject);
        resolve();
      });
    });
    return new StatsdReceiver(socket);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  #ingest(text: string): void {
    for (const line of text.split('\n')) {
      if (!line) continue;
      const m = /^(.+):(-?[0-9.eE+-]+)\|(c|ms|g|h|s)(?:\|@[0-9.]+)?$/.exec(line);
      if (!m) {
        this.malformed++;
        continue;
      }
      const key = metricName(m[1]);
      if (m[3] === 'g') this.gaugeMax.set(key, Math.max(this.gaugeMax.get(key) ?? -Infinity, Number(m[2])));
      if (m[3] !== 'c') continue;
      const t = this.totals.get(key) ?? { count: 0, sum: 0 };
      t.count++;
      t.sum += Number(m[2]);
      this.totals.set(key, t);
    }
  }

  total(name: string): MetricTotal {
    return this.totals.get(name) ?? { count: 0, sum: 0 };
  }

  traffic(): MemberlistTraffic {
    const us = this.total('memberlist.udp.sent'), ts = this.total('memberlist.tcp.sent'), ur = this.total('memberlist.udp.received');
    return {
      messagesSent: us.count + ts.count,
      bytesSent: us.sum + ts.sum,
      udpPacketsSent: us.count,
      udpBytesSent: us.sum,
      tcpMessagesSent: ts.count,
      tcpBytesSent: ts.sum,
      udpPacketsReceived: ur.count,
      udpBytesReceived: ur.sum,
    };
  }

  close(): void {
    try {
      this.#socket.close();
    } catch {
      /* already closed */
    }
  }
}

/** "serf-agent.host.memberlist.udp.sent" → "memberlist.udp.sent" (the first known family on). */
export function metricName(key: string): string {
  const m = /(?:^|\.)((?:memberlist|serf|agent)\..*)$/.exec(key);
  return m ? m[1] : key;
}

/** The difference b − a of two traffic readings (a window of a run). */
export function trafficDelta(a: MemberlistTraffic, b: MemberlistTraffic): MemberlistTraffic {
  const out = {} as MemberlistTraffic;
  for (const k of Object.keys(b) as (keyof MemberlistTraffic)[]) out[k] = b[k] - a[k];
  return out;
}
