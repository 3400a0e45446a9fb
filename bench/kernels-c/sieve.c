// Sieve of Eratosthenes below 2^20, repeated: run(reps) = primes found, summed over the reps.
#include "freestanding.h"
#define LIMIT (1 << 20)
static unsigned char composite[LIMIT];

__attribute__((export_name("run"))) unsigned run(unsigned reps) {
  unsigned total = 0;
  for (unsigned r = 0; r < reps; r++) {
    for (unsigned i = 0; i < LIMIT; i++) composite[i] = 0;
    unsigned count = 0;
    for (unsigned i = 2; i < LIMIT; i++) {
      if (composite[i]) continue;
      count++;
      for (unsigned j = i * 2; j < LIMIT; j += i) composite[j] = 1;
    }
    total += count;
  }
  return total;
}
