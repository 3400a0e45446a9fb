// The least a rewrite must do: decode every instruction of every function body. The same
// walk as bench/meter-floor.mjs's JavaScript one, compiled to wasm with clang -O2.
typedef unsigned char u8;
typedef unsigned u32;

static u8 buf[96 << 20];
__attribute__((export_name("buffer"))) u8 *buffer(void) { return buf; }

static const u8 *leb(const u8 *p) {
  while (*p++ & 0x80) {}
  return p;
}

// Walks `count` bodies whose [start, end) offsets into buf are at `ranges`; returns the
// number of instructions (so the work cannot be optimised away).
__attribute__((export_name("walk"))) u32 walk(u32 count, u32 ranges) {
  const u32 *r = (const u32 *)(buf + ranges);
  u32 n = 0;
  for (u32 f = 0; f < count; f++) {
    const u8 *p = buf + r[2 * f], *end = buf + r[2 * f + 1];
    while (p < end) {
      u8 op = *p++;
      n++;
      if (op >= 0x45 && op <= 0xc4) continue;
      if ((op >= 0x20 && op <= 0x24) || op == 0x10 || op == 0x0c || op == 0x0d || op == 0x3f || op == 0x40 || op == 0x41 || op == 0x42) { p = leb(p); continue; }
      if (op >= 0x28 && op <= 0x3e) { p = leb(leb(p)); continue; }
      if (op == 0x43) { p += 4; continue; }
      if (op == 0x44) { p += 8; continue; }
      if (op == 0x02 || op == 0x03 || op == 0x04) { p++; continue; }
      if (op == 0x11) { p = leb(leb(p)); continue; }
      if (op == 0x0e) {
        u32 k = 0, s = 0; u8 x;
        do { x = *p++; k |= (u32)(x & 0x7f) << s; s += 7; } while (x & 0x80);
        for (u32 i = 0; i <= k; i++) p = leb(p);
        continue;
      }
      if (op == 0xfc) { u8 sub = *p++; if (sub == 10) p += 2; else if (sub == 11) p += 1; continue; }
    }
  }
  return n;
}
