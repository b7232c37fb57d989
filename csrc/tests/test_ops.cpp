// C++ test of the fused CPU kernels (no Python): weighted InfoNCE forward and backward against a
// direct double-precision evaluation of Eq. 1-3 and its finite differences.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "cardionets/cardionets.h"
#include "check.h"

// Eq. 1-3 literally, in double, on already normalised embeddings.
static double naive(const std::vector<float>& ze, const std::vector<float>& zc, const std::vector<float>& phi,
                    int B, int D, int P, double sigma, double tau) {
  double lec = 0, lce = 0;
  auto s = [&](int i, int k) {
    double v = 0;
    for (int d = 0; d < D; ++d) v += double(ze[i * D + d]) * zc[k * D + d];
    return v;
  };
  auto w = [&](int i, int k) {
    if (i == k) return 0.0;
    double d2 = 0;
    for (int p = 0; p < P; ++p) d2 += (double(phi[i * P + p]) - phi[k * P + p]) * (double(phi[i * P + p]) - phi[k * P + p]);
    return 1.0 - std::exp(-d2 / (sigma * sigma));
  };
  for (int i = 0; i < B; ++i) {
    double den_r = 0, den_c = 0;
    for (int k = 0; k < B; ++k) {
      den_r += (i == k ? 1.0 : w(i, k)) * std::exp(s(i, k) / tau);
      den_c += (i == k ? 1.0 : w(k, i)) * std::exp(s(k, i) / tau);
    }
    lec -= s(i, i) / tau - std::log(den_r);
    lce -= s(i, i) / tau - std::log(den_c);
  }
  return 0.5 * (lec + lce) / B;
}

static void normalise(std::vector<float>& z, int B, int D) {
  for (int i = 0; i < B; ++i) {
    double n = 0;
    for (int d = 0; d < D; ++d) n += double(z[i * D + d]) * z[i * D + d];
    for (int d = 0; d < D; ++d) z[i * D + d] = float(z[i * D + d] / std::sqrt(n));
  }
}

int main() {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  for (int B : {1, 7, 70, 130}) {
    const int D = 24, P = 12;
    const float sigma = 2.0f, tau = 0.2f;
    std::vector<float> ze(B * D), zc(B * D), phi(B * P);
    for (auto* v : {&ze, &zc, &phi})
      for (auto& x : *v) x = nd(rng);
    if (B > 3)
      for (int p = 0; p < P; ++p) phi[2 * P + p] = phi[0 * P + p];  // duplicated phenotype
    normalise(ze, B, D);
    normalise(zc, B, D);
    std::vector<float> m_ec(B), m_ce(B), d_ze(B * D), d_zc(B * D);
    const double loss = cardionets::ops::weighted_infonce_forward(ze.data(), zc.data(), phi.data(), B, D, P, sigma,
                                                                  tau, m_ec.data(), m_ce.data());
    const double want = naive(ze, zc, phi, B, D, P, sigma, tau);
    CHECK(std::fabs(loss - want) <= 1e-5 * (1 + std::fabs(want)));
    cardionets::ops::weighted_infonce_backward(ze.data(), zc.data(), phi.data(), B, D, P, sigma, tau, m_ec.data(),
                                               m_ce.data(), 1.0f, d_ze.data(), d_zc.data());
    // central finite difference of the naive loss along a few coordinates
    for (int j : {0, D + 3, (B - 1) * D + 5}) {
      if (j >= B * D) continue;
      const float h = 1e-3f;
      auto e1 = ze, e2 = ze;
      e1[j] += h;
      e2[j] -= h;
      const double fd = (naive(e1, zc, phi, B, D, P, sigma, tau) - naive(e2, zc, phi, B, D, P, sigma, tau)) / (2 * h);
      CHECK(std::fabs(fd - d_ze[j]) <= 1e-3 * (1 + std::fabs(fd)));
      auto c1 = zc, c2 = zc;
      c1[j] += h;
      c2[j] -= h;
      const double fdc = (naive(ze, c1, phi, B, D, P, sigma, tau) - naive(ze, c2, phi, B, D, P, sigma, tau)) / (2 * h);
      CHECK(std::fabs(fdc - d_zc[j]) <= 1e-3 * (1 + std::fabs(fdc)));
    }
  }
  bool caught = false;
  try {
    std::vector<float> m(1);
    float x[1] = {1.0f};
    cardionets::ops::weighted_infonce_forward(x, x, x, 1, 1, 1, -1.0f, 0.1f, m.data(), m.data());
  } catch (const cardionets::Error&) {
    caught = true;
  }
  CHECK(caught);
  if (failures) std::fprintf(stderr, "%d failure(s)\n", failures);
  else std::printf("test_ops: ok\n");
  return failures ? 1 : 0;
}
