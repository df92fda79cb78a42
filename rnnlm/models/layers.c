/* One stream through one LSTM, GRU or tanh RNN layer, T steps, in C: rnnlm/models/compiled.py builds and
   loads it.

   The same equations as numpy_cells._lstm_layer and _gru_layer, and numpy_rnn's tanh layer: the input part
   of the gates comes prepared (the sigmoid rows halved, so that one tanh gives every gate), the recurrent
   matrix as trained (torch's weight_hh), and the step halves its sigmoid rows' products, which gives the
   same numbers as halving the weights first (a power of two scales exactly). A step reads the whole
   recurrent matrix for one token, so its speed is the speed at which the matrix comes from the caches: the
   step keeps the matrix in the precision the checkpoint stored (float16 halves the bytes and gives the same
   numbers when every weight is a float16), and runs without Python between steps, so two layers on two
   threads do not take turns over Python's lock.

   The layer functions take the same arguments: T steps, H units, gi (T, G) the input part of the gates
   (bias included), w (G, H) weight_hh in float32 or IEEE float16 (half = 1), b_rec the GRU's b_hn (H,) (the
   LSTM and the RNN have none), the state h and c (H,) read and written in place (the GRU and the RNN have
   no c), out (T, H), scratch (G,). Arrays are contiguous float32 unless named. They return 0.
*/
#include <stdint.h>

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__F16C__)
#include <immintrin.h>
#endif

/* tanh as a rational function of x (Eigen's generic_fast_tanh_float): within a few float ulps, and a loop
   of it vectorizes, where libm's tanhf is a call per element. Beyond +-7.9 tanh rounds to +-1 in float. */
static inline float tanh_r(float x) {
    const float clamp = 7.90531110763549805f;
    float xc = x > clamp ? clamp : (x < -clamp ? -clamp : x);
    float x2 = xc * xc;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * xc;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    float r = p / q;
    return (x < 0.0004f && x > -0.0004f) ? x : r; /* tanh(x) = x to float precision */
}

static void tanh_all(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = tanh_r(x[i]);
}

/* IEEE half -> float: the conversion instruction where there is one, else bit by bit. */
#if defined(__F16C__)
static inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }
#else
static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000 | (man << 13); /* inf, nan */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else { /* subnormal: normalize */
        int e = -1;
        do { man <<= 1; e++; } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    union { uint32_t u; float f; } v = {bits};
    return v.f;
}
#endif

/* y[0..8) = 8 rows of W (H weights each, row after row from w) times h. The 8 rows share each load of h,
   and the 8 sums are independent chains, so the multiply-adds do not wait on one another. */
#define ROWS 8

#if defined(__AVX512F__)
/* The sum of each of 8 vectors, into y[0..8): a transposing tree of adds. */
static inline void sum8x16(__m512 a0, __m512 a1, __m512 a2, __m512 a3, __m512 a4, __m512 a5, __m512 a6, __m512 a7,
                           float *y) {
    /* 128-bit lanes: b0 = [a0.0+a0.2, a0.1+a0.3, a1.0+a1.2, a1.1+a1.3], b1 for a2, a3, ... */
    __m512 b0 = _mm512_add_ps(_mm512_shuffle_f32x4(a0, a1, 0x44), _mm512_shuffle_f32x4(a0, a1, 0xee));
    __m512 b1 = _mm512_add_ps(_mm512_shuffle_f32x4(a2, a3, 0x44), _mm512_shuffle_f32x4(a2, a3, 0xee));
    __m512 b2 = _mm512_add_ps(_mm512_shuffle_f32x4(a4, a5, 0x44), _mm512_shuffle_f32x4(a4, a5, 0xee));
    __m512 b3 = _mm512_add_ps(_mm512_shuffle_f32x4(a6, a7, 0x44), _mm512_shuffle_f32x4(a6, a7, 0xee));
    /* c0's 128-bit lanes hold a0, a1, a2, a3 (4 partial sums each); c1's a4 .. a7 */
    __m512 c0 = _mm512_add_ps(_mm512_shuffle_f32x4(b0, b1, 0x88), _mm512_shuffle_f32x4(b0, b1, 0xdd));
    __m512 c1 = _mm512_add_ps(_mm512_shuffle_f32x4(b2, b3, 0x88), _mm512_shuffle_f32x4(b2, b3, 0xdd));
    /* lane j of d: [aj.0+aj.2, a(j+4).0+a(j+4).2, aj.1+aj.3, a(j+4).1+a(j+4).3]; then e: [aj, a(j+4), aj, a(j+4)] */
    __m512 d = _mm512_add_ps(_mm512_unpacklo_ps(c0, c1), _mm512_unpackhi_ps(c0, c1));
    __m512 e = _mm512_add_ps(d, _mm512_permute_ps(d, 0x4e));
    __m512i order = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 13, 9, 5, 1, 12, 8, 4, 0);
    _mm256_storeu_ps(y, _mm512_castps512_ps256(_mm512_permutexvar_ps(order, e)));
}
#define LOAD_F32(p) _mm512_loadu_ps(p)
#define LOAD_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define DOT8(name, type, load, scalar)                                                                    \
    static inline void name(const type *w, int64_t H, const float *h, float *y) {                         \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;    \
        int64_t k = 0;                                                                                     \
        for (; k + 16 <= H; k += 16) {                                                                     \
            __m512 x = _mm512_loadu_ps(h + k);                                                             \
            a0 = _mm512_fmadd_ps(load(w + k), x, a0);                                                      \
            a1 = _mm512_fmadd_ps(load(w + H + k), x, a1);                                                  \
            a2 = _mm512_fmadd_ps(load(w + 2 * H + k), x, a2);                                              \
            a3 = _mm512_fmadd_ps(load(w + 3 * H + k), x, a3);                                              \
            a4 = _mm512_fmadd_ps(load(w + 4 * H + k), x, a4);                                              \
            a5 = _mm512_fmadd_ps(load(w + 5 * H + k), x, a5);                                              \
            a6 = _mm512_fmadd_ps(load(w + 6 * H + k), x, a6);                                              \
            a7 = _mm512_fmadd_ps(load(w + 7 * H + k), x, a7);                                              \
        }                                                                                                  \
        sum8x16(a0, a1, a2, a3, a4, a5, a6, a7, y);                                                        \
        for (; k < H; k++)                                                                                 \
            for (int i = 0; i < ROWS; i++) y[i] += scalar(w[i * H + k]) * h[k];                            \
    }
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
/* The sum of each of 8 vectors, into y[0..8). */
static inline void sum8x8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4, __m256 a5, __m256 a6, __m256 a7,
                          float *y) {
    __m256 b0 = _mm256_hadd_ps(a0, a1), b1 = _mm256_hadd_ps(a2, a3);
    __m256 b2 = _mm256_hadd_ps(a4, a5), b3 = _mm256_hadd_ps(a6, a7);
    __m256 c0 = _mm256_hadd_ps(b0, b1), c1 = _mm256_hadd_ps(b2, b3); /* per 128-bit half: a0 .. a3, a4 .. a7 */
    __m256 lo = _mm256_permute2f128_ps(c0, c1, 0x20), hi = _mm256_permute2f128_ps(c0, c1, 0x31);
    _mm256_storeu_ps(y, _mm256_add_ps(lo, hi));
}
#define LOAD_F32(p) _mm256_loadu_ps(p)
#define LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define DOT8(name, type, load, scalar)                                                                    \
    static inline void name(const type *w, int64_t H, const float *h, float *y) {                         \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;    \
        int64_t k = 0;                                                                                     \
        for (; k + 8 <= H; k += 8) {                                                                       \
            __m256 x = _mm256_loadu_ps(h + k);                                                             \
            a0 = _mm256_fmadd_ps(load(w + k), x, a0);                                                      \
            a1 = _mm256_fmadd_ps(load(w + H + k), x, a1);                                                  \
            a2 = _mm256_fmadd_ps(load(w + 2 * H + k), x, a2);                                              \
            a3 = _mm256_fmadd_ps(load(w + 3 * H + k), x, a3);                                              \
            a4 = _mm256_fmadd_ps(load(w + 4 * H + k), x, a4);                                              \
            a5 = _mm256_fmadd_ps(load(w + 5 * H + k), x, a5);                                              \
            a6 = _mm256_fmadd_ps(load(w + 6 * H + k), x, a6);                                              \
            a7 = _mm256_fmadd_ps(load(w + 7 * H + k), x, a7);                                              \
        }                                                                                                  \
        sum8x8(a0, a1, a2, a3, a4, a5, a6, a7, y);                                                         \
        for (; k < H; k++)                                                                                 \
            for (int i = 0; i < ROWS; i++) y[i] += scalar(w[i * H + k]) * h[k];                            \
    }
#else
#define DOT8(name, type, load, scalar)                                                                    \
    static inline void name(const type *w, int64_t H, const float *h, float *y) {                         \
        for (int i = 0; i < ROWS; i++) {                                                                   \
            float s = 0.0f;                                                                                \
            for (int64_t k = 0; k < H; k++) s += scalar(w[i * H + k]) * h[k];                             \
            y[i] = s;                                                                                      \
        }                                                                                                  \
    }
#endif

static inline float as_float(float x) { return x; }
DOT8(dot8_f32, float, LOAD_F32, as_float)
DOT8(dot8_f16, uint16_t, LOAD_F16, half_to_float)

static inline float dot(const void *w, int half, int64_t r, int64_t H, const float *h) {
    float s = 0.0f;
    if (half) for (int64_t k = 0; k < H; k++) s += half_to_float(((const uint16_t *)w)[r * H + k]) * h[k];
    else for (int64_t k = 0; k < H; k++) s += ((const float *)w)[r * H + k] * h[k];
    return s;
}

/* y (G,) = W (G, H) h, 8 rows at a time, the blocks in order or (back = 1) in reverse order. A step reads
   W as a whole once per token, and a cache keeps what was read last: going back and forth, each step
   starts with the rows the last one ended with, so a matrix about the size of the cache mostly comes
   from it instead of from the next, slower level (the 2 MB float16 matrix of a 2x512 LSTM layer: 50 to
   60 us a step on a core with 2 MB of L2, against 80 to 90 us always in order). */
static void gemv(int64_t G, int64_t H, const void *w, int half, const float *h, float *y, int back) {
    int64_t blocks = G / ROWS;
    for (int64_t b = 0; b < blocks; b++) {
        int64_t r = ROWS * (back ? blocks - 1 - b : b);
        if (half) dot8_f16((const uint16_t *)w + r * H, H, h, y + r);
        else dot8_f32((const float *)w + r * H, H, h, y + r);
    }
    for (int64_t r = blocks * ROWS; r < G; r++) y[r] = dot(w, half, r, H, h);
}

/* LSTM, gates i, f, g, o; the i, f, o rows halved: g = tanh(W h / 2 + gi[t]) (W h + gi[t] for g); the
   sigmoids are g / 2 + 1 / 2.
   b_rec is unused. */
int rnnlm_lstm_layer(int64_t T, int64_t H, const float *gi, const void *w, int half, const float *b_rec, float *h,
                     float *c, float *out, float *scratch) {
    (void)b_rec;
    const float *hp = h;
    float *g = scratch;
    for (int64_t t = 0; t < T; t++) {
        const float *git = gi + t * 4 * H;
        gemv(4 * H, H, w, half, hp, g, (int)(t & 1));
        for (int64_t i = 0; i < 2 * H; i++) g[i] = g[i] * 0.5f + git[i]; /* i, f */
        for (int64_t i = 2 * H; i < 3 * H; i++) g[i] += git[i];          /* g */
        for (int64_t i = 3 * H; i < 4 * H; i++) g[i] = g[i] * 0.5f + git[i]; /* o */
        tanh_all(g, 4 * H);
        float *o = out + t * H;
        for (int64_t j = 0; j < H; j++) {
            float si = g[j] * 0.5f + 0.5f, sf = g[H + j] * 0.5f + 0.5f;
            float cj = c[j] * sf;
            cj += si * g[2 * H + j];
            c[j] = cj;
            o[j] = cj; /* tanh below */
        }
        tanh_all(o, H);
        for (int64_t j = 0; j < H; j++) o[j] *= g[3 * H + j] * 0.5f + 0.5f;
        hp = o;
    }
    for (int64_t j = 0; j < H && T > 0; j++) h[j] = hp[j];
    return 0;
}

/* GRU, gates r, z, n; the r, z rows halved: gh = W h; r, z = tanh(gi + gh / 2) / 2 + 1 / 2;
   n = tanh(gi_n + r * (gh_n + b_hn)), b_hn = b_rec; h' = (h - n) z + n. c is unused. */
int rnnlm_gru_layer(int64_t T, int64_t H, const float *gi, const void *w, int half, const float *b_rec, float *h,
                    float *c, float *out, float *scratch) {
    const float *b_hn = b_rec;
    (void)c;
    const float *hp = h;
    float *gh = scratch;
    for (int64_t t = 0; t < T; t++) {
        const float *git = gi + t * 3 * H;
        gemv(3 * H, H, w, half, hp, gh, (int)(t & 1));
        for (int64_t i = 0; i < 2 * H; i++) gh[i] = gh[i] * 0.5f + git[i]; /* r, z; the n rows keep W_hn h */
        tanh_all(gh, 2 * H);
        float *o = out + t * H;
        for (int64_t j = 0; j < H; j++) {
            float r = gh[j] * 0.5f + 0.5f;
            o[j] = r * (gh[2 * H + j] + b_hn[j]) + git[2 * H + j];
        }
        tanh_all(o, H); /* n */
        for (int64_t j = 0; j < H; j++) {
            float z = gh[H + j] * 0.5f + 0.5f, n = o[j];
            o[j] = (hp[j] - n) * z + n;
        }
        hp = o;
    }
    for (int64_t j = 0; j < H && T > 0; j++) h[j] = hp[j];
    return 0;
}

/* tanh RNN (G = H): h' = tanh(W h + gi[t]), W = Whh transposed (rows are units). b_rec, c and scratch are
   unused: the step's sums go straight into out. */
int rnnlm_rnn_layer(int64_t T, int64_t H, const float *gi, const void *w, int half, const float *b_rec, float *h,
                    float *c, float *out, float *scratch) {
    (void)b_rec, (void)c, (void)scratch;
    const float *hp = h;
    for (int64_t t = 0; t < T; t++) {
        const float *git = gi + t * H;
        float *o = out + t * H;
        gemv(H, H, w, half, hp, o, (int)(t & 1));
        for (int64_t j = 0; j < H; j++) o[j] += git[j];
        tanh_all(o, H);
        hp = o;
    }
    for (int64_t j = 0; j < H && T > 0; j++) h[j] = hp[j];
    return 0;
}

/* y (G,) = (W (G, K) x) * scale + b: one token's input part of a layer's gates from weight_ih as trained
   (float32, or float16 with half = 1), scale holding the prepared rows' factors (1/2 on sigmoid rows). */
int rnnlm_gates_in(int64_t G, int64_t K, const void *w, int half, const float *x, const float *scale,
                   const float *b, float *y) {
    gemv(G, K, w, half, x, y, 0);
    for (int64_t r = 0; r < G; r++) y[r] = y[r] * scale[r] + b[r];
    return 0;
}
