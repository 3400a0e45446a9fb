// String hashing: a table of NUL-terminated strings of varying length, each hashed with
#include "freestanding.h"
// djb2 and counted into an open-addressing hash table. run(reps) = checksum of the counts.
#define STRINGS 4096
#define SLOTS 8192
static char text[STRINGS * 48];
static unsigned offsets[STRINGS];
static unsigned keys[SLOTS], counts[SLOTS];

__attribute__((noinline)) static unsigned hash(const char *s) {
  unsigned h = 5381;
  while (*s) h = h * 33 + (unsigned char)*s++;
  return h;
}

static void build(void) {
  unsigned x = 2463534242u, at = 0;
  for (unsigned i = 0; i < STRINGS; i++) {
    offsets[i] = at;
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    unsigned len = 4 + x % 40;
    for (unsigned j = 0; j < len; j++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; text[at++] = (char)('a' + x % 16); }
    text[at++] = 0;
  }
}

__attribute__((export_name("run"))) unsigned run(unsigned reps) {
  build();
  for (unsigned i = 0; i < SLOTS; i++) { keys[i] = 0; counts[i] = 0; }
  for (unsigned r = 0; r < reps; r++)
    for (unsigned i = 0; i < STRINGS; i++) {
      unsigned h = hash(text + offsets[i]) | 1, slot = h & (SLOTS - 1);
      while (keys[slot] != 0 && keys[slot] != h) slot = (slot + 1) & (SLOTS - 1);
      keys[slot] = h;
      counts[slot]++;
    }
  unsigned sum = 0;
  for (unsigned i = 0; i < SLOTS; i++) sum = sum * 31 + keys[i] * counts[i];
  return sum;
}
