/**
 * Urza on a real PostgreSQL (PG_URL), each test in its own schema: the
 * migration and library contracts (the same cases as on PGlite), and an
 * outage: a TCP proxy in front of PostgreSQL is killed while writes go on,
 * then brought back.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { openUrzaOutbox, UrzaLibrary, type Outbox, type UrzaWrite } from '../../../src/actors/urza/index.ts';
import { migrate, PgDatabase, type Database } from '../../../src/infra/db/index.ts';
import { Metrics } from '../../../src/infra/metrics.ts';
import { eventOf, libraryContract, rejectsWith } from '../../actors/urza/library-contract.ts';
import { migrationContract, type SchemaFactory } from '../../infra/db/migrations-contract.ts';
import { schemaName } from '../../infra/db/shared-pglite.ts';
import { PG_URL, requireService } from '../../helpers/services.ts';

const postgres: SchemaFactory = {
  open: () => PgDatabase.connect({ url: PG_URL, schema: schemaName('urza_it'), maxConnections: 4 }),
  drop: async (db: Database) => {
    try {
      await db.exec(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE`);
    } finally {
      await db.close();
    }
  },
};

/** A TCP proxy to PostgreSQL that can be killed (every connection cut, the port closed) and restarted on the same port. */
class TcpProxy {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  port = 0;

  constructor(target: string) {
    const url = new URL(target);
    this.#target = { host: url.hostname, port: url.port === '' ? 5432 : Number(url.port) };
  }

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = netConnect(this.#target);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async kill(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  url(): string {
    const url = new URL(PG_URL);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

describe('Urza on PostgreSQL', function () {
  before(async function () {
    await requireService(this, 'postgres');
  });

  migrationContract('PostgreSQL', postgres);
  libraryContract('PostgreSQL', postgres);

  describe('PgDatabase', () => {
    it('pins connections to its schema and keeps settings given in the URL', async () => {
      const url = new URL(PG_URL);
      url.searchParams.set('options', '-c application_name=esper_it');
      const db = await PgDatabase.connect({ url: url.toString(), schema: schemaName('urza_opts') });
      try {
        const { rows } = await db.query<{ schema: string; app: string }>("SELECT current_schema() AS schema, current_setting('application_name') AS app");
        expect(rows[0]).to.deep.equal({ schema: db.schema, app: 'esper_it' });
        const tx = await db.transaction(async (t) => (await t.query<{ n: number }>('SELECT 20000000000::bigint AS n')).rows[0]!.n);
        expect(tx, 'bigint comes back as a number, as on PGlite').to.equal(20_000_000_000);
      } finally {
        await postgres.drop(db);
      }
    });

    it('fails fast with ESPER_STORAGE_UNAVAILABLE when nothing listens', async () => {
      const closed = new TcpProxy(PG_URL);
      await closed.start();
      const url = closed.url();
      await closed.kill();
      const started = Date.now();
      await rejectsWith(PgDatabase.connect({ url, connectTimeoutMs: 1000 }), 'ESPER_STORAGE_UNAVAILABLE');
      expect(Date.now() - started).to.be.lessThan(3000);
    });
  });

  describe('PostgreSQL unavailable', function () {
    this.timeout(30_000);
    let proxy: TcpProxy;
    let db: PgDatabase | undefined;
    let dir: string;
    const outboxes: Outbox<UrzaWrite>[] = [];
    const schema = schemaName('urza_outage');

    before(async () => {
      proxy = new TcpProxy(PG_URL);
      await proxy.start();
      dir = await mkdtemp(join(tmpdir(), 'esper-urza-outage-'));
    });

    after(async () => {
      for (const outbox of outboxes) await outbox.close();
      await db?.close();
      await proxy.kill();
      const direct = await PgDatabase.connect({ url: PG_URL });
      await direct.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await direct.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('queues writes in the outbox while the database is gone (a restart included) and lands them, in order and once, when it returns', async () => {
      db = await PgDatabase.connect({ url: proxy.url(), schema, connectTimeoutMs: 1000 });
      await migrate(db);
      const library = new UrzaLibrary(db);
      const metrics = new Metrics();
      const file = join(dir, 'urza-outbox.jsonl');
      const options = { file, breaker: { failureThreshold: 2, resetTimeoutMs: 300, timeoutMs: 3000 }, retryMs: 50, metrics };
      const first = await openUrzaOutbox(library, options);
      outboxes.push(first);
      const write = (outbox: Outbox<UrzaWrite>, n: number): Promise<string> => outbox.write({ op: 'appendEvents', events: [eventOf(`e${n}`, 'r1', n)] });

      expect(await write(first, 1)).to.equal('stored');

      await proxy.kill();
      for (let n = 2; n <= 4; n++) expect(await write(first, n), `write ${n} while down`).to.equal('queued');
      await waitFor(() => first.breakerState === 'open', 5000, 'the storage breaker to open');
      const started = Date.now();
      expect(await write(first, 5)).to.equal('queued');
      expect(Date.now() - started, 'no wait on an open breaker').to.be.lessThan(200);
      await rejectsWith(first.read(() => library.eventsOfRun('r1')), 'ESPER_BREAKER_OPEN');
      expect(first.pending).to.equal(4);
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      expect(lines, 'every queued write is in the file').to.have.length(4);

      // The process "crashes" while the database is still down: a new outbox reloads the file.
      await first.close();
      const second = await openUrzaOutbox(library, options);
      outboxes.push(second);
      expect(second.pending).to.equal(4);
      expect(await write(second, 6)).to.equal('queued');
      // A redelivered write (e3 again) queued behind the others must not be stored twice.
      expect(await write(second, 3)).to.equal('queued');

      await proxy.start(); // same port
      await waitFor(() => second.pending === 0, 15_000, 'the outbox to drain into PostgreSQL');
      const events = await library.eventsOfRun('r1');
      expect(events.map((e) => [e.seq, e.event.id])).to.deep.equal([[1, 'e1'], [2, 'e2'], [3, 'e3'], [4, 'e4'], [5, 'e5'], [6, 'e6']]);
      const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE run_id = 'r1'");
      expect(rows[0]!.n).to.equal(6);
      expect(second.breakerState).to.equal('closed');
      expect(await write(second, 7)).to.equal('stored');
      expect(await readFile(file, 'utf8'), 'the file is compacted once everything landed').to.equal('');
    });
  });
});
