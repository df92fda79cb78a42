/* One stream through one LSTM or GRU layer, T steps, in C: rnnlm/models/compiled.py builds and loads it.

   The same equations as numpy_cells._lstm_layer and _gru_layer: the input part of the gates comes
   prepared (the sigmoid rows halved, so that one tanh gives every gate), the recurrent matrix as trained
   (torch's weight_hh), and the step halves its sigmoid rows' products, which gives the same numbers as
   halving the weights first (a power of two scales exactly). A step reads the whole recurrent matrix for
   one token, so its speed is the speed at which the matrix comes from the caches: the step keeps the
   matrix in the precision the checkpoint stored (float16 halves the bytes and gives the same numbers
   when every weight is a float16), and runs without Python between steps, so two layers on two threads
   do not take turns over Python's lock.

   Both layer functions take the same arguments: T steps, H units, gi (T, G) the input part of the gates
   (bias included), w (G, H) weight_hh in float32 or IEEE float16 (half = 1), b_rec the GRU's b_hn (H,)
   (the LSTM has none), the state h and c (H,) read and written in place (the GRU has no c), out (T, H),
   scratch (G,). Arrays are contiguous float32 unless named. They return 0.
*/
#include <stdint.h>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
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

/* IEEE half -> float, for machines without a conversion instruction. */
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

#if defined(__AVX512F__)
static inline float dot_f32(const float *w, const float *h, int64_t H) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= H; k += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k), _mm512_loadu_ps(h + k), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k + 16), _mm512_loadu_ps(h + k + 16), a1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; k < H; k++) s += w[k] * h[k];
    return s;
}
static inline float dot_f16(const uint16_t *w, const float *h, int64_t H) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= H; k += 32) {
        __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + k)));
        __m512 w1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + k + 16)));
        a0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(h + k), a0);
        a1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(h + k + 16), a1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; k < H; k++) s += half_to_float(w[k]) * h[k];
    return s;
}
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
static inline float sum8(__m256 a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float dot_f32(const float *w, const float *h, int64_t H) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= H; k += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k), _mm256_loadu_ps(h + k), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k + 8), _mm256_loadu_ps(h + k + 8), a1);
    }
    float s = sum8(_mm256_add_ps(a0, a1));
    for (; k < H; k++) s += w[k] * h[k];
    return s;
}
static inline float dot_f16(const uint16_t *w, const float *h, int64_t H) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= H; k += 16) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + k)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + k + 8)));
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(h + k), a0);
        a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(h + k + 8), a1);
    }
    float s = sum8(_mm256_add_ps(a0, a1));
    for (; k < H; k++) s += half_to_float(w[k]) * h[k];
    return s;
}
#else
static inline float dot_f32(const float *w, const float *h, int64_t H) {
    float s = 0.0f;
    for (int64_t k = 0; k < H; k++) s += w[k] * h[k];
    return s;
}
static inline float dot_f16(const uint16_t *w, const float *h, int64_t H) {
    float s = 0.0f;
    for (int64_t k = 0; k < H; k++) s += half_to_float(w[k]) * h[k];
    return s;
}
#endif

/* y (G,) = W (G, H) h */
static void gemv(int64_t G, int64_t H, const void *w, int half, const float *h, float *y) {
    if (half) {
        const uint16_t *w16 = (const uint16_t *)w;
        for (int64_t r = 0; r < G; r++) y[r] = dot_f16(w16 + r * H, h, H);
    } else {
        const float *w32 = (const float *)w;
        for (int64_t r = 0; r < G; r++) y[r] = dot_f32(w32 + r * H, h, H);
    }
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
        gemv(4 * H, H, w, half, hp, g);
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
        gemv(3 * H, H, w, half, hp, gh);
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

/* y (G,) = (W (G, K) x) * scale + b: one token's input part of a layer's gates from weight_ih as trained
   (float32, or float16 with half = 1), scale holding the prepared rows' factors (1/2 on sigmoid rows). */
int rnnlm_gates_in(int64_t G, int64_t K, const void *w, int half, const float *x, const float *scale,
                   const float *b, float *y) {
    gemv(G, K, w, half, x, y);
    for (int64_t r = 0; r < G; r++) y[r] = y[r] * scale[r] + b[r];
    return 0;
}
