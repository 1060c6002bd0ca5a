/**
 * HashiCorp Serf behind the black-box seam (../adapter.ts): `serf agent`, LAN profile, observed
 * over its RPC — the `monitor` log stream for memberlist's decisions, the `stream` of member
 * events for what applications receive.
 */
import type { BeliefSink, BlackBoxAdapter, BlackBoxAgent } from '../adapter.ts';
import { freeLoopbackPort } from '../ports.ts';
import { SerfAgent, serfUnavailableReason, serfVersion } from './agent.ts';
import type { SerfRpcClient, StreamEvent } from './rpc.ts';

// serf/serf.go and memberlist/state.go log lines (INFO)
const LOG_EVENT = /serf: EventMember(Join|Leave|Failed|Reap)(?: \(forced\))?: (\S+)/;
const LOG_SUSPECT = /memberlist: Suspect (\S+) has failed, no acks received/;
const LOG_MARKED = /memberlist: Marking (\S+) as failed, suspect timeout reached \((\d+) peer confirmations\)/;

class SerfBlackBox implements BlackBoxAgent {
  readonly #agent: SerfAgent;
  readonly ports: readonly number[];
  #rpc: SerfRpcClient | null = null;

  constructor(agent: SerfAgent, ports: number[]) {
    this.#agent = agent;
    this.ports = ports;
  }
  get name() {
    return this.#agent.name;
  }
  get pid() {
    return this.#agent.pid;
  }
  get joinAddr() {
    return this.#agent.bindAddr;
  }

  async #client(): Promise<SerfRpcClient> {
    this.#rpc ??= await this.#agent.rpc();
    return this.#rpc;
  }

  async observe(sink: BeliefSink): Promise<void> {
    const rpc = await this.#client();
    await rpc.monitor('INFO', (line) => {
      const e = LOG_EVENT.exec(line);
      if (e) {
        if (e[1] === 'Join') sink.decided('up', e[2]);
        else if (e[1] === 'Failed' || e[1] === 'Leave') sink.decided('down', e[2]);
        return;
      }
      const s = LOG_SUSPECT.exec(line);
      if (s) return sink.suspected?.(s[1]);
      const d = LOG_MARKED.exec(line);
      if (d) sink.declared?.(d[1], Number(d[2]));
    });
    await rpc.stream('member-join,member-leave,member-failed', (ev: StreamEvent) => {
      if (ev.Event === 'user') return;
      for (const m of ev.Members) sink.delivered(ev.Event === 'member-join' ? 'up' : 'down', m.Name);
    });
  }

  async join(addrs: string[]): Promise<void> {
    await (await this.#client()).join(addrs);
  }

  async aliveMembers(): Promise<string[]> {
    return (await (await this.#client()).members()).filter((m) => m.Status === 'alive').map((m) => m.Name);
  }

  async broadcast(name: string, payload: Uint8Array): Promise<void> {
    await (await this.#client()).userEvent(name, payload);
  }

  async receive(onPayload: (name: string, payload: Uint8Array) => void): Promise<void> {
    // user events are delivered at once unless fired with Coalesce (broadcast fires without)
    await (await this.#client()).stream('user', (ev: StreamEvent) => {
      if (ev.Event === 'user') onPayload(ev.Name, ev.Payload);
    });
  }

  async leave(): Promise<void> {
    await (await this.#client()).leave();
  }

  kill(): Promise<void> {
    return this.#agent.kill();
  }

  async stop(): Promise<void> {
    this.#rpc?.close();
    this.#rpc = null;
    await this.#agent.stop();
  }
}

export const serfAdapter: BlackBoxAdapter = {
  name: 'serf',
  profile: 'lan',
  unavailableReason: () => serfUnavailableReason(),
  version: () => serfVersion(),
  async start(spec) {
    // a port found free can be taken before the agent binds it (by another node process's agent
    // or any outgoing connection: both come from the ephemeral range): start again on new ports
    let agent: SerfAgent, bindPort: number, rpcPort: number;
    for (let attempt = 1; ; attempt++) {
      bindPort = await freeLoopbackPort();
      rpcPort = await freeLoopbackPort();
      try {
        agent = await SerfAgent.start({ name: spec.name, bindPort, rpcPort, statsdAddr: spec.statsdAddr, tags: spec.tags, reaper: spec.reaper, profile: 'lan', parentDir: spec.dir, dieWithParent: spec.dieWithParent });
        break;
      } catch (e) {
        if (attempt >= 5 || !/address already in use/.test(String((e as Error)?.message))) throw e;
      }
    }
    return new SerfBlackBox(agent, [bindPort, rpcPort]);
  },
};
