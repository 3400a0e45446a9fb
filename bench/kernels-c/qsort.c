// A libc-style generic quicksort (element size and comparator passed in, so every comparison
// is an indirect call) over pseudo-random i32s. run(n) = 1 if sorted, plus a checksum.
#define MAX 1000000
static int data[MAX];

typedef int (*compare_fn)(const void *, const void *);

static void swap(char *a, char *b, unsigned size) {
  while (size--) { char t = *a; *a++ = *b; *b++ = t; }
}

__attribute__((noinline)) static void sort(char *base, unsigned n, unsigned size, compare_fn cmp) {
  while (n > 1) {
    if (n < 8) { // insertion sort for short runs
      for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && cmp(base + (j - 1) * size, base + j * size) > 0; j--)
          swap(base + (j - 1) * size, base + j * size, size);
      return;
    }
    swap(base, base + (n / 2) * size, size); // middle element as pivot
    unsigned last = 0;
    for (unsigned i = 1; i < n; i++)
      if (cmp(base + i * size, base) < 0) swap(base + ++last * size, base + i * size, size);
    swap(base, base + last * size, size);
    // recurse into the smaller part, loop on the larger
    if (last < n - last - 1) { sort(base, last, size, cmp); base += (last + 1) * size; n -= last + 1; }
    else { sort(base + (last + 1) * size, n - last - 1, size, cmp); n = last; }
  }
}

static int compare_ints(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

// Kept apart so clang cannot see which comparator is used and specialise it away.
compare_fn volatile comparator = compare_ints;

__attribute__((export_name("run"))) int run(unsigned n) {
  if (n > MAX) n = MAX;
  unsigned x = 12345;
  for (unsigned i = 0; i < n; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; data[i] = (int)x; }
  sort((char *)data, n, sizeof(int), comparator);
  unsigned sum = 0;
  for (unsigned i = 0; i < n; i++) {
    if (i > 0 && data[i - 1] > data[i]) return -1;
    sum = sum * 31 + (unsigned)data[i];
  }
  return (int)(sum & 0x7fffffff);
}
