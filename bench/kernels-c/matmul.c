// Dense f64 matrix multiply, 64x64, repeated: run(reps) = the bits of the sum of all results.
#define N 64
static double A[N * N], B[N * N], C[N * N];

static void init(void) {
  for (unsigned i = 0; i < N * N; i++) {
    A[i] = (double)((i * 7 + 3) % 101) / 50.0 - 1.0;
    B[i] = (double)((i * 13 + 5) % 97) / 48.0 - 1.0;
  }
}

static void matmul(void) {
  for (unsigned i = 0; i < N; i++)
    for (unsigned j = 0; j < N; j++) {
      double acc = 0;
      for (unsigned k = 0; k < N; k++) acc += A[i * N + k] * B[k * N + j];
      C[i * N + j] = acc;
    }
}

__attribute__((export_name("run"))) long long run(unsigned reps) {
  init();
  double total = 0;
  for (unsigned r = 0; r < reps; r++) {
    matmul();
    for (unsigned i = 0; i < N * N; i++) total += C[i];
    A[r % (N * N)] += 1e-3; // keep the repetitions from being folded
  }
  union { double d; long long bits; } u = { total };
  return u.bits;
}
