// The frame reader against a simulated kernel: every read fills the buffer
// the reader asked for (its target) with the next bytes of the stream, cut at
// random points. Frames must come out whole, in order, and unchanged after the
// scratch buffer has been overwritten by later reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DIRECT_MIN_BYTES, FrameReader, POOLED_MIN_BYTES, type FrameSink } from '../../../src/server/frame-reader.ts';
import { BufferPool, type PooledBuffer } from '../../../src/storage/buffer-pool.ts';

const MAX = 1 << 20;

interface Got {
  frame: Buffer;
  block: PooledBuffer | null;
}

function sink(
  got: Got[],
  opts: {
    paused?: () => boolean;
    oversize?: (n: number) => void;
    admit?: (size: number, apiKey: number) => boolean;
    abandon?: (size: number, apiKey: number) => void;
  } = {},
): FrameSink {
  return {
    frame: (frame, block) => got.push({ frame, block }),
    oversize: opts.oversize ?? ((n) => assert.fail(`unexpected oversize ${n}`)),
    paused: opts.paused ?? (() => false),
    admit: opts.admit ?? (() => true),
    abandon: opts.abandon ?? (() => {}),
  };
}

/** A frame: api key (int16), then filler bytes derived from its index. */
function frameBytes(apiKey: number, size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  if (size >= 2) b.writeInt16BE(apiKey, 0);
  return b;
}

function stream(frames: Buffer[]): Buffer {
  return Buffer.concat(
    frames.flatMap((f) => [
      Buffer.from([f.length >>> 24, (f.length >>> 16) & 0xff, (f.length >>> 8) & 0xff, f.length & 0xff]),
      f,
    ]),
  );
}

/** Feed `bytes` as the kernel would: each read into reader.target(), at most `cut(i)` bytes. */
function kernel(reader: FrameReader, bytes: Buffer, cut: (i: number) => number): number {
  let at = 0;
  let reads = 0;
  while (at < bytes.length) {
    const t = reader.target();
    const n = Math.min(t.length, Math.max(1, cut(reads)), bytes.length - at);
    bytes.copy(t, 0, at, at + n);
    reader.received(t, n);
    at += n;
    reads++;
  }
  return reads;
}

const frameArb = fc.record({
  apiKey: fc.constantFrom(0, 1, 3, 11),
  size: fc.oneof(
    fc.integer({ min: 0, max: 300 }),
    fc.integer({ min: 300, max: 70_000 }),
    fc.integer({ min: 70_000, max: 300_000 }),
  ),
});

test('frames cut at any points come out whole, in order, and stay intact after later reads', () => {
  fc.assert(
    fc.property(
      fc.array(frameArb, { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 20 }),
      (specs, cuts) => {
        const pool = new BufferPool(8 << 20);
        const frames = specs.map((s, i) => frameBytes(s.apiKey, s.size, i));
        const got: Got[] = [];
        const reader = new FrameReader(MAX, sink(got), pool);
        kernel(reader, stream(frames), (i) => cuts[i % cuts.length]);
        assert.equal(got.length, frames.length);
        for (let i = 0; i < frames.length; i++) {
          assert.ok(got[i].frame.equals(frames[i]), `frame ${i} (${frames[i].length} bytes)`);
          const pooled = specs[i].apiKey === 0 && specs[i].size >= POOLED_MIN_BYTES;
          assert.equal(
            got[i].block !== null,
            pooled,
            `frame ${i}: pooled iff a Produce of ${POOLED_MIN_BYTES} bytes or more`,
          );
          if (got[i].block)
            assert.equal(got[i].frame.buffer, got[i].block!.buf.buffer, 'the frame lies in its pooled buffer');
        }
        assert.equal(reader.buffered, 0);
      },
    ),
    { numRuns: 150 },
  );
});

test('a large frame is read in place: a few reads, no scratch copies', () => {
  const frame = frameBytes(0, 1_000_000, 1);
  const got: Got[] = [];
  const reader = new FrameReader(MAX, sink(got), new BufferPool(8 << 20));
  // The kernel hands over at most 64 KiB before the reader knows the size, then as much as the target holds.
  const reads = kernel(reader, stream([frame]), (i) => (i === 0 ? 65536 : 1 << 30));
  assert.equal(reads, 2, 'the first read learns the size, the second fills the rest in place');
  assert.ok(got[0].frame.equals(frame));
  assert.ok(got[0].block, 'pooled');
  assert.ok(DIRECT_MIN_BYTES <= 1_000_000 - 65536);
});

test('owned chunks (socket data events) are passed on as slices, not copies', () => {
  const frames = [frameBytes(1, 100, 1), frameBytes(0, 50_000, 2), frameBytes(3, 10, 3)];
  const bytes = stream(frames);
  const got: Got[] = [];
  const reader = new FrameReader(MAX, sink(got), new BufferPool(1 << 20));
  reader.received(bytes, bytes.length, true);
  assert.equal(got.length, 3);
  for (let i = 0; i < 3; i++) {
    assert.ok(got[i].frame.equals(frames[i]));
    assert.equal(got[i].frame.buffer, bytes.buffer, 'a slice of the chunk');
    assert.equal(got[i].block, null);
  }
});

test('while paused nothing is handed over; resume() delivers the rest in order', () => {
  const frames = Array.from({ length: 6 }, (_, i) => frameBytes(1, 40 + i, i));
  let paused = false;
  const got: Got[] = [];
  const reader = new FrameReader(MAX, {
    frame: (frame, block) => {
      got.push({ frame, block });
      if (got.length === 2) paused = true;
    },
    oversize: () => assert.fail('oversize'),
    paused: () => paused,
    admit: () => true,
    abandon: () => {},
  });
  const bytes = stream(frames);
  const t = reader.target();
  bytes.copy(t);
  reader.received(t, bytes.length);
  assert.equal(got.length, 2, 'paused after the second frame');
  assert.ok(reader.buffered > 0);
  // The scratch is overwritten by the next read before we resume.
  reader.target().fill(0xee);
  paused = false;
  reader.resume();
  assert.equal(got.length, 6);
  for (let i = 0; i < 6; i++) assert.ok(got[i].frame.equals(frames[i]), `frame ${i}`);
});

for (const size of [-1, -2147483648, MAX + 1, 2147483647]) {
  test(`a size prefix of ${size} is reported before any allocation, and reading stops`, () => {
    const sizes: number[] = [];
    const got: Got[] = [];
    const reader = new FrameReader(MAX, sink(got, { oversize: (n) => sizes.push(n) }));
    const bytes = Buffer.concat([
      stream([frameBytes(1, 8, 1)]),
      Buffer.from([size >>> 24, (size >>> 16) & 0xff, (size >>> 8) & 0xff, size & 0xff]),
      stream([frameBytes(1, 8, 2)]),
    ]);
    reader.received(bytes, bytes.length, true);
    assert.deepEqual(sizes, [size]);
    assert.equal(got.length, 1, 'the frame before it, nothing after');
    reader.received(stream([frameBytes(1, 8, 3)]), 12, true);
    assert.equal(got.length, 1);
  });
}

test('stop() returns an unfinished pooled frame to its pool', () => {
  const pool = new BufferPool(8 << 20);
  const got: Got[] = [];
  const reader = new FrameReader(MAX, sink(got), pool);
  const bytes = stream([frameBytes(0, 200_000, 1)]);
  const t = reader.target();
  bytes.copy(t, 0, 0, 1000);
  reader.received(t, 1000);
  assert.equal(got.length, 0);
  assert.equal(pool.idle, 0);
  reader.stop();
  assert.equal(pool.idle, BufferPool.capacityFor(200_000));
});

test('a frame the sink does not admit is neither allocated nor handed over until resume(); an abandoned one is given back', () => {
  const frames = [frameBytes(0, 30_000, 1), frameBytes(3, 50, 2), frameBytes(0, 40_000, 3)];
  const asked: [number, number][] = [];
  const abandoned: [number, number][] = [];
  let room = 1;
  const got: Got[] = [];
  const pool = new BufferPool(8 << 20);
  const reader = new FrameReader(
    MAX,
    sink(got, {
      admit: (size, apiKey) => {
        asked.push([size, apiKey]);
        if (room === 0) return false;
        room--;
        return true;
      },
      abandon: (size, apiKey) => abandoned.push([size, apiKey]),
    }),
    pool,
  );
  const bytes = stream(frames);
  // all but the last 100 bytes arrive
  kernel(reader, bytes.subarray(0, bytes.length - 100), () => 1 << 20);
  assert.equal(got.length, 1, 'only the admitted frame is handed over');
  assert.deepEqual(asked[0], [30_000, 0]);
  assert.ok(
    asked.length >= 2 && asked.slice(1).every(([s, k]) => s === 50 && k === 3),
    'then only the refused frame is asked for, again',
  );
  assert.ok(reader.frameInProgress, 'the refused bytes are carried');
  const before = asked.length;
  room = 2;
  reader.resume();
  assert.equal(got.length, 2);
  assert.ok(got[1].frame.equals(frames[1]));
  assert.deepEqual(asked.slice(before), [
    [50, 3],
    [40_000, 0],
  ]);
  // the third frame is admitted and partly received: stopping gives its room back
  reader.stop();
  assert.deepEqual(abandoned, [[40_000, 0]]);
});

/**
 * The scratch shared by several connections, as it once was: one event-loop
 * simulation runs several readers whose small reads all land in one buffer,
 * reads of different connections interleaved (several in one loop turn),
 * connections paused and resumed in between, and every frame kept by its
 * handler until the end (as JoinGroup keeps member metadata). With the real
 * reader every frame stays intact and none lies in the scratch: nothing
 * outlives the read callback, so sharing it is safe. The control run hands
 * the scratch's bytes over as if owned (a handler keeping a slice of the
 * scratch), and the same check catches it.
 */
function sharedScratchLoop(
  specs: { apiKey: number; size: number }[][],
  steps: { conn: number; cut: number; pause: number }[],
  keepSlices: boolean,
) {
  const shared = Buffer.allocUnsafeSlow(64 * 1024);
  class SharedScratchReader extends FrameReader {
    override target(): Buffer {
      const t = super.target();
      return t === (this as unknown as { scratch: Buffer | null }).scratch ? shared : t;
    }
  }
  const pool = new BufferPool(16 << 20);
  const conns = specs.map((frames, c) => {
    const originals = frames.map((s, i) => frameBytes(s.apiKey, s.size, c * 1000 + i));
    const got: Got[] = [];
    const conn = {
      originals,
      bytes: stream(originals),
      at: 0,
      got,
      paused: false,
      reader: null as unknown as FrameReader,
    };
    conn.reader = new SharedScratchReader(MAX, sink(got, { paused: () => conn.paused }), pool);
    return conn;
  });
  const read = (c: (typeof conns)[number], cut: number) => {
    const t = c.reader.target();
    const n = Math.min(t.length, Math.max(1, cut), c.bytes.length - c.at);
    c.bytes.copy(t, 0, c.at, c.at + n);
    c.at += n;
    c.reader.received(t, n, keepSlices && t === shared);
  };
  for (const s of steps) {
    const c = conns[s.conn % conns.length];
    // A connection at its in-flight limit is paused; one whose replies went out resumes.
    if (s.pause === 1) c.paused = true;
    if (s.pause === 2 && c.paused) {
      c.paused = false;
      c.reader.resume();
    }
    if (c.at < c.bytes.length) read(c, s.cut);
  }
  for (const c of conns) {
    c.paused = false;
    c.reader.resume();
    while (c.at < c.bytes.length) read(c, 1 << 20);
  }
  return { conns, shared };
}

const specsArb = fc.array(
  fc.array(
    fc.record({
      apiKey: fc.constantFrom(0, 1, 11, 14),
      size: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 300, max: 40_000 })),
    }),
    { minLength: 1, maxLength: 8 },
  ),
  { minLength: 2, maxLength: 4 },
);
const stepsArb = fc.array(
  fc.record({ conn: fc.nat(3), cut: fc.integer({ min: 1, max: 70_000 }), pause: fc.constantFrom(0, 0, 0, 1, 2) }),
  { minLength: 1, maxLength: 60 },
);

test('shared scratch: connections reading into one scratch, interleaved and paused, get every kept frame intact', () => {
  fc.assert(
    fc.property(specsArb, stepsArb, (specs, steps) => {
      const { conns, shared } = sharedScratchLoop(specs, steps, false);
      for (const [ci, c] of conns.entries()) {
        assert.equal(c.got.length, c.originals.length, `connection ${ci}`);
        for (let i = 0; i < c.originals.length; i++) {
          assert.ok(
            c.got[i].frame.equals(c.originals[i]),
            `connection ${ci}, frame ${i} (${c.originals[i].length} bytes)`,
          );
          assert.notEqual(c.got[i].frame.buffer, shared.buffer, 'no frame lies in the scratch');
        }
      }
    }),
    { numRuns: 200 },
  );
});

test('shared scratch, control: frames left as slices of the scratch are overwritten by other connections\u2019 reads', () => {
  const specs = [[{ apiKey: 11, size: 200 }], [{ apiKey: 14, size: 200 }]];
  const { conns } = sharedScratchLoop(
    specs,
    [
      { conn: 0, cut: 1 << 20, pause: 0 },
      { conn: 1, cut: 1 << 20, pause: 0 },
    ],
    true,
  );
  assert.equal(conns[0].got.length, 1);
  assert.ok(
    !conns[0].got[0].frame.equals(conns[0].originals[0]),
    'connection 0\u2019s JoinGroup-like frame was overwritten by connection 1\u2019s read',
  );
});
