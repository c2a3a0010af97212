// A minimal reader of a .wasm binary's sections and data segments (no dependency), for
// scripts/size-profile.mjs: section sizes, and the bytes of each data segment to search for
// source paths (panic locations).

function reader(bytes, at = 0) {
  return {
    get at() {
      return at;
    },
    byte() {
      return bytes[at++];
    },
    leb() {
      let result = 0;
      let shift = 0;
      for (;;) {
        const b = bytes[at++];
        result += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (!(b & 0x80)) return result;
      }
    },
    skip(n) {
      at += n;
    },
  };
}

const SECTION_NAMES = ["custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "datacount", "tag"];

/** The sections of a module: `{ id, kind, name (custom sections), start, end, size }`. */
export function sections(bytes) {
  if (bytes.readUInt32LE(0) !== 0x6d736100) throw new Error("not a wasm module");
  const r = reader(bytes, 8);
  const found = [];
  while (r.at < bytes.length) {
    const id = r.byte();
    const size = r.leb();
    const start = r.at;
    let name;
    if (id === 0) {
      const inner = reader(bytes, start);
      const length = inner.leb();
      name = bytes.subarray(inner.at, inner.at + length).toString("utf8");
    }
    found.push({ id, kind: SECTION_NAMES[id] ?? `section ${id}`, name, start, end: start + size, size });
    r.skip(size);
  }
  return found;
}

/** Skips a constant expression (i32/i64.const, global.get, ... end). */
function skipConstExpr(r) {
  for (;;) {
    const op = r.byte();
    if (op === 0x0b) return;
    if (op === 0x41 || op === 0x42 || op === 0x23) r.leb();
    else throw new Error(`unexpected opcode 0x${op.toString(16)} in a data segment offset`);
  }
}

/** The data segments: `{ index, bytes }` each (active or passive). */
export function dataSegments(bytes) {
  const data = sections(bytes).find((s) => s.id === 11);
  if (!data) return [];
  const r = reader(bytes, data.start);
  const count = r.leb();
  const segments = [];
  for (let index = 0; index < count; index++) {
    const flags = r.leb();
    if (flags === 2) r.leb();
    if (flags !== 1) skipConstExpr(r);
    const size = r.leb();
    segments.push({ index, bytes: bytes.subarray(r.at, r.at + size) });
    r.skip(size);
  }
  return segments;
}
