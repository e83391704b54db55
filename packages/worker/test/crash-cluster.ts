/**
 * Worker child processes of the crash-recovery tests: a cluster of numbered slots that the test
 * kills with SIGKILL and restarts, the random kill schedule (chaos), and the registry of clusters
 * that `killAllClusters` cleans up after each test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { crashStoreEnv, type CrashStoreConfig } from './fixtures/crash-store.js';
import { ROOT, sleep, workerCommand, type prng } from './crash-env.js';

// ---------------------------------------------------------------------------------------------
// Worker processes

interface Incarnation {
  slot: number;
  pid: number;
  child: ChildProcess;
  startedAt: number;
  ready: boolean;
  readyAt?: number;
  stdout: string;
  stderr: string;
  exited?: { at: number; code: number | null; signal: NodeJS.Signals | null; expected: boolean };
}

const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/**
 * Worker child processes in numbered slots. `kill(slot)` sends SIGKILL and records when; `start(slot)`
 * (re)starts a slot. Every incarnation's stdout/stderr is kept for `diagnostics()`.
 */
export class WorkerCluster {
  readonly incarnations: Incarnation[] = [];
  /** pid → when it died (for a kill: when SIGKILL was sent; else when its exit was seen). */
  readonly deaths = new Map<number, number>();
  readonly kills: Array<{ slot: number; pid: number; at: number; ready: boolean }> = [];
  readonly #current = new Map<number, Incarnation>();
  readonly #env: Record<string, string>;

  readonly #command: { args: string[]; env: Record<string, string> };

  constructor(
    readonly label: string,
    options: { store: CrashStoreConfig; logFile: string; env?: Record<string, string>; command: { args: string[]; env: Record<string, string> } },
  ) {
    this.#env = { ...crashStoreEnv(options.store), CRASH_LOG: options.logFile, ...options.env };
    this.#command = options.command;
  }

  start(slot: number): Incarnation {
    const previous = this.#current.get(slot);
    if (previous !== undefined && previous.exited === undefined && !this.deaths.has(previous.pid)) throw new Error(`slot ${slot} is running (pid ${previous.pid})`);
    const child = spawn(process.execPath, this.#command.args, {
      cwd: ROOT,
      env: { ...process.env, ...this.#env, ...this.#command.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`could not spawn worker for slot ${slot}`);
    const incarnation: Incarnation = { slot, pid: child.pid, child, startedAt: Date.now(), ready: false, stdout: '', stderr: '' };
    liveChildren.add(child);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      incarnation.stdout += chunk;
      if (!incarnation.ready && incarnation.stdout.includes('ready ')) {
        incarnation.ready = true;
        incarnation.readyAt = Date.now();
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      // Keep the head and the tail of a noisy process.
      incarnation.stderr = incarnation.stderr.length > 200_000 ? incarnation.stderr.slice(0, 100_000) + '\n[…]\n' + (incarnation.stderr.slice(-50_000) + chunk) : incarnation.stderr + chunk;
    });
    child.on('exit', (code, signal) => {
      liveChildren.delete(child);
      const at = Date.now();
      const expected = this.deaths.has(incarnation.pid);
      incarnation.exited = { at, code, signal, expected };
      if (!expected) this.deaths.set(incarnation.pid, at);
    });
    this.incarnations.push(incarnation);
    this.#current.set(slot, incarnation);
    return incarnation;
  }

  startAll(count: number): void {
    for (let slot = 0; slot < count; slot += 1) this.start(slot);
  }

  /** SIGKILLs the slot's process; the kill time is recorded before it can be re-claimed by anyone. */
  kill(slot: number): void {
    const incarnation = this.#current.get(slot);
    if (incarnation === undefined || incarnation.exited !== undefined || this.deaths.has(incarnation.pid)) return;
    incarnation.child.kill('SIGKILL');
    const at = Date.now();
    this.deaths.set(incarnation.pid, at);
    this.kills.push({ slot, pid: incarnation.pid, at, ready: incarnation.ready });
  }

  /** Slots whose current process is alive (and not being killed). */
  aliveSlots(): number[] {
    return [...this.#current.values()].filter((incarnation) => incarnation.exited === undefined && !this.deaths.has(incarnation.pid)).map((incarnation) => incarnation.slot);
  }

  current(slot: number): Incarnation | undefined {
    return this.#current.get(slot);
  }

  /** Processes that exited without being killed by the test. */
  unexpectedExits(): Incarnation[] {
    return this.incarnations.filter((incarnation) => incarnation.exited !== undefined && !incarnation.exited.expected);
  }

  /** Waits until every current process printed `ready` (or exited). */
  async waitReady(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.#current.values()].some((incarnation) => !incarnation.ready && incarnation.exited === undefined && !this.deaths.has(incarnation.pid))) {
      if (Date.now() > deadline) throw new Error(`workers not ready after ${timeoutMs} ms\n${this.diagnostics()}`);
      await sleep(25);
    }
  }

  /** SIGKILLs every process still alive and waits for their exits. */
  async killAll(): Promise<void> {
    const alive = this.incarnations.filter((incarnation) => incarnation.exited === undefined);
    const exits = alive.map((incarnation) => new Promise<void>((resolve) => (incarnation.exited === undefined ? incarnation.child.once('exit', () => resolve()) : resolve())));
    for (const incarnation of alive) {
      if (!this.deaths.has(incarnation.pid)) this.deaths.set(incarnation.pid, Date.now());
      incarnation.child.kill('SIGKILL');
    }
    await Promise.race([Promise.all(exits), sleep(5000)]);
  }

  /** Every incarnation: slot, pid, how it ended, and its stderr (for failure reports). */
  diagnostics(): string {
    const parts = [`=== ${this.label}: ${this.incarnations.length} worker process(es), ${this.kills.length} kill(s) ===`];
    for (const incarnation of this.incarnations) {
      const exit = incarnation.exited;
      const how = exit === undefined ? 'alive' : exit.expected ? `killed by the test (${exit.signal ?? exit.code})` : `EXITED UNEXPECTEDLY code=${exit.code} signal=${exit.signal}`;
      parts.push(`--- slot ${incarnation.slot} pid ${incarnation.pid} started ${new Date(incarnation.startedAt).toISOString().slice(11, 23)} ${incarnation.readyAt === undefined ? 'never ready' : `ready after ${incarnation.readyAt - incarnation.startedAt} ms`}: ${how}${exit === undefined ? '' : ` at ${new Date(exit.at).toISOString().slice(11, 23)}`}`);
      if (incarnation.stderr.trim() !== '') parts.push(incarnation.stderr.trimEnd());
    }
    return parts.join('\n');
  }
}

/**
 * Kills a random live worker at random moments (SIGKILL) and restarts it after a random down time,
 * while `active()` holds, at most `maxKills` times. Victims are workers that are up (a worker takes
 * 1–4 s to boot under tsx on a busy machine), those running a step preferred (`busyPids`, from the
 * probe log); with `startupKillChance` a booting one is killed
 * instead, and with `doubleKillChance` two die at once. Restarts happen in the background, so the
 * others keep being killed meanwhile.
 */
export async function chaos(options: {
  cluster: WorkerCluster;
  rng: ReturnType<typeof prng>;
  active: () => boolean;
  maxKills: number;
  intervalMs: [number, number];
  downMs: [number, number];
  doubleKillChance?: number;
  startupKillChance?: number;
  /** Pids running a step right now: preferred victims (a kill then interrupts work). */
  busyPids?: () => Set<number>;
}): Promise<void> {
  const { cluster, rng } = options;
  const restarts: Array<Promise<void>> = [];
  while (cluster.kills.length < options.maxKills && options.active()) {
    await sleep(rng.between(...options.intervalMs));
    if (!options.active()) break;
    const alive = cluster.aliveSlots();
    const ready = alive.filter((slot) => cluster.current(slot)?.ready === true);
    const busy = options.busyPids?.() ?? new Set<number>();
    const busySlots = ready.filter((slot) => busy.has(cluster.current(slot)!.pid));
    const up = busySlots.length > 0 ? busySlots : ready;
    const booting = alive.filter((slot) => !ready.includes(slot));
    const victims: number[] = [];
    const startupKills = cluster.kills.filter((kill) => !kill.ready).length;
    const startupRound = rng.next() < (options.startupKillChance ?? 0) && startupKills < Math.ceil(options.maxKills / 4);
    if (startupRound && booting.length > 0) victims.push(rng.pick(booting));
    else if (up.length > 0) {
      victims.push(rng.pick(up));
      const others = up.filter((slot) => slot !== victims[0]);
      if (others.length > 0 && rng.next() < (options.doubleKillChance ?? 0)) victims.push(rng.pick(others));
    }
    for (const slot of victims) {
      cluster.kill(slot);
      restarts.push(sleep(rng.between(...options.downMs)).then(() => void cluster.start(slot)));
    }
  }
  await Promise.all(restarts);
}

// ---------------------------------------------------------------------------------------------
// Cluster registry

const clusters = new Set<WorkerCluster>();

/** A cluster (of workers started by `workerCommand`) that `killAllClusters` (afterEach) cleans up. */
export async function createCluster(label: string, options: Omit<ConstructorParameters<typeof WorkerCluster>[1], 'command'>): Promise<WorkerCluster> {
  const cluster = new WorkerCluster(label, { ...options, command: await workerCommand() });
  clusters.add(cluster);
  return cluster;
}

export async function killAllClusters(): Promise<void> {
  await Promise.all([...clusters].map((cluster) => cluster.killAll()));
  clusters.clear();
}
