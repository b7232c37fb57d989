// Filter design for the ECG pipeline: Kaiser-window FIR (resample_poly) and digital Butterworth
// second-order sections (butter + sosfiltfilt), following the definitions scipy.signal uses so
// the results agree with it to rounding.
#include <algorithm>
#include <cmath>
#include <complex>
#include <numeric>

#include "cardionets/core.h"
#include "cardionets/dsp.h"

namespace cardionets::dsp {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Modified Bessel function of the first kind, order 0: sum_k ((x/2)^k / k!)^2.
double bessel_i0(double x) {
  const double q = 0.25 * x * x;
  double term = 1.0, sum = 1.0;
  for (int k = 1; k < 500; ++k) {
    term *= q / (static_cast<double>(k) * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

double sinc(double x) {
  if (x == 0.0) return 1.0;
  const double y = kPi * x;
  return std::sin(y) / y;
}

bool whole_hz(double fs) { return std::isfinite(fs) && fs > 0 && std::fabs(fs - std::round(fs)) < 1e-9 * fs; }

}  // namespace

Ratio resample_ratio(double fs_in, double fs_out) {
  if (!whole_hz(fs_in) || !whole_hz(fs_out))
    throw Error("resample: sample rates must be positive whole numbers of Hz, got " + std::to_string(fs_in) +
                " -> " + std::to_string(fs_out));
  const int64_t a = std::llround(fs_out), b = std::llround(fs_in);
  const int64_t g = std::gcd(a, b);
  return {a / g, b / g};
}

std::vector<double> kaiser_window(int64_t n, double beta) {
  if (n <= 0) return {};
  if (n == 1) return {1.0};
  std::vector<double> w(static_cast<size_t>(n));
  const double alpha = 0.5 * static_cast<double>(n - 1), denom = bessel_i0(beta);
  for (int64_t i = 0; i < n; ++i) {
    const double r = (static_cast<double>(i) - alpha) / alpha;
    w[static_cast<size_t>(i)] = bessel_i0(beta * std::sqrt(std::max(0.0, 1.0 - r * r))) / denom;
  }
  return w;
}

std::vector<double> firwin_lowpass(int64_t numtaps, double cutoff, double beta) {
  if (numtaps < 1 || !(cutoff > 0.0 && cutoff < 1.0))
    throw Error("firwin: need numtaps >= 1 and 0 < cutoff < 1 (relative to Nyquist)");
  std::vector<double> h = kaiser_window(numtaps, beta);
  const double alpha = 0.5 * static_cast<double>(numtaps - 1);
  double sum = 0.0;
  for (int64_t i = 0; i < numtaps; ++i) {
    const double m = static_cast<double>(i) - alpha;
    h[static_cast<size_t>(i)] *= cutoff * sinc(cutoff * m);
    sum += h[static_cast<size_t>(i)];
  }
  for (double& v : h) v /= sum;  // unit gain at DC (firwin scale=True)
  return h;
}

int64_t ResampleFilter::output_length(int64_t n_in) const {
  const int64_t n = n_in * up;
  return n / down + (n % down != 0 ? 1 : 0);
}

ResampleFilter design_resample(int64_t up, int64_t down, double kaiser_beta) {
  if (up < 1 || down < 1) throw Error("resample: up and down must be >= 1");
  const int64_t g = std::gcd(up, down);
  ResampleFilter f;
  f.up = up / g;
  f.down = down / g;
  if (f.identity()) return f;
  const int64_t max_rate = std::max(f.up, f.down);
  const int64_t half_len = 10 * max_rate;
  std::vector<double> h = firwin_lowpass(2 * half_len + 1, 1.0 / static_cast<double>(max_rate), kaiser_beta);
  const int64_t n_pre_pad = f.down - half_len % f.down;
  f.n_pre_remove = (half_len + n_pre_pad) / f.down;
  f.h.assign(static_cast<size_t>(n_pre_pad), 0.0);
  for (double v : h) f.h.push_back(v * static_cast<double>(f.up));
  return f;
}

std::vector<Section> butter_sos(int order, double cutoff_hz, double fs, bool highpass) {
  if (order < 1 || order > 20) throw Error("butter: order must be in [1, 20], got " + std::to_string(order));
  if (!(fs > 0) || !(cutoff_hz > 0) || !(cutoff_hz < fs / 2))
    throw Error("butter: cutoff " + std::to_string(cutoff_hz) + " Hz must lie in (0, fs/2) for fs " +
                std::to_string(fs) + " Hz");
  using C = std::complex<double>;
  const double wn = 2.0 * cutoff_hz / fs;            // relative to Nyquist
  const double warped = 4.0 * std::tan(kPi * wn / 2.0);  // pre-warp with internal fs = 2
  const double fs2 = 4.0;
  // Analog prototype poles on the unit circle, left half plane.
  std::vector<C> p;
  for (int m = -order + 1; m < order; m += 2) p.push_back(-std::exp(C(0.0, kPi * m / (2.0 * order))));
  std::vector<C> pa(p.size());
  double k = 1.0;
  C prod_neg_p = 1.0;
  for (const C& v : p) prod_neg_p *= -v;
  for (size_t i = 0; i < p.size(); ++i) pa[i] = highpass ? warped / p[i] : p[i] * warped;
  if (highpass) {
    k = (1.0 / prod_neg_p).real();
  } else {
    k = std::pow(warped, order);
  }
  // Bilinear transform: zeros of the analog filter are at 0 (high-pass, N of them) or at
  // infinity (low-pass); digitally they land at +1 or -1.
  C den = 1.0;
  std::vector<C> pd(pa.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    pd[i] = (fs2 + pa[i]) / (fs2 - pa[i]);
    den *= fs2 - pa[i];
  }
  const double kd = highpass ? k * (std::pow(fs2, order) / den).real() : k * (1.0 / den).real();
  const double zero = highpass ? 1.0 : -1.0;
  // Sections: the real pole first (odd orders), then conjugate pairs from far to near the unit
  // circle; the gain goes into the first section, as scipy's zpk2sos does.
  std::vector<Section> sos;
  std::vector<C> pairs;
  for (const C& v : pd) {
    if (std::fabs(v.imag()) < 1e-14) {
      sos.push_back({1.0, -zero, 0.0, 1.0, -v.real(), 0.0});
    } else if (v.imag() > 0) {
      pairs.push_back(v);
    }
  }
  std::sort(pairs.begin(), pairs.end(), [](const C& a, const C& b) { return std::abs(a) < std::abs(b); });
  for (const C& v : pairs)
    sos.push_back({1.0, -2.0 * zero, zero * zero, 1.0, -2.0 * v.real(), std::norm(v)});
  for (int i = 0; i < 3; ++i) sos[0][static_cast<size_t>(i)] *= kd;
  return sos;
}

std::vector<std::array<double, 2>> sosfilt_zi(const std::vector<Section>& sos) {
  std::vector<std::array<double, 2>> zi(sos.size());
  double scale = 1.0;
  for (size_t s = 0; s < sos.size(); ++s) {
    const Section& c = sos[s];
    const double b0 = c[0], b1 = c[1], b2 = c[2], a1 = c[4] / c[3], a2 = c[5] / c[3];
    // lfilter_zi: solve (I - companion(a)^T) z = b[1:] - a[1:] * b[0] for the 2-state DF-II-T.
    const double r0 = b1 - a1 * b0, r1 = b2 - a2 * b0;
    const double z0 = (r0 + r1) / (1.0 + a1 + a2);
    const double z1 = r1 - a2 * z0;
    zi[s] = {scale * z0, scale * z1};
    scale *= (b0 + b1 + b2) / (c[3] + c[4] + c[5]);
  }
  return zi;
}

int64_t sosfiltfilt_padlen(const std::vector<Section>& sos) {
  int64_t zb = 0, za = 0;
  for (const Section& c : sos) {
    zb += c[2] == 0.0;
    za += c[5] == 0.0;
  }
  const int64_t ntaps = 2 * static_cast<int64_t>(sos.size()) + 1 - std::min(zb, za);
  return 3 * ntaps;
}

}  // namespace cardionets::dsp
