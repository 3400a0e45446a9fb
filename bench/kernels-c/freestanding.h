// -nostdlib leaves no libc: clang still turns zeroing loops into memset calls, so provide one
// (a byte loop clang must not turn back into a call to itself).
__attribute__((no_builtin("memset"))) void *memset(void *dest, int c, unsigned long n) {
  unsigned char *d = dest;
  while (n--) *d++ = (unsigned char)c;
  return dest;
}
