// Bindings of the fused CPU kernels (csrc/ops). Arrays are float32, C-contiguous; outputs are
// written into caller-provided arrays (torch tensors' .numpy() views, zero-copy).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "bindings.h"
#include "cardionets/core.h"
#include "cardionets/ops.h"

namespace py = pybind11;

namespace cardionets::python {
namespace {

using F32 = py::array_t<float, py::array::c_style>;

void check_2d(const py::array& a, const char* name, int64_t rows, int64_t cols) {
  if (a.ndim() != 2 || (rows >= 0 && a.shape(0) != rows) || (cols >= 0 && a.shape(1) != cols))
    throw cardionets::Error(std::string("weighted_infonce: ") + name + " must be [" + std::to_string(rows) + ", " +
                            (cols >= 0 ? std::to_string(cols) : std::string("*")) + "] float32");
}
void check_1d(const py::array& a, const char* name, int64_t n) {
  if (a.ndim() != 1 || a.shape(0) != n)
    throw cardionets::Error(std::string("weighted_infonce: ") + name + " must be [" + std::to_string(n) + "] float32");
}

double wi_forward(const F32& ze, const F32& zc, const F32& phi, float sigma, float tau, F32 m_ec, F32 m_ce) {
  check_2d(ze, "z_ecg", -1, -1);
  const int64_t B = ze.shape(0), D = ze.shape(1);
  check_2d(zc, "z_cmr", B, D);
  check_2d(phi, "phi", B, -1);
  check_1d(m_ec, "m_ec", B);
  check_1d(m_ce, "m_ce", B);
  const int64_t P = phi.shape(1);
  const float *pe = ze.data(), *pc = zc.data(), *pp = phi.data();
  float *oe = m_ec.mutable_data(), *oc = m_ce.mutable_data();
  py::gil_scoped_release release;
  return cardionets::ops::weighted_infonce_forward(pe, pc, pp, B, D, P, sigma, tau, oe, oc);
}

void wi_backward(const F32& ze, const F32& zc, const F32& phi, float sigma, float tau, const F32& m_ec,
                 const F32& m_ce, float grad, F32 d_ze, F32 d_zc) {
  check_2d(ze, "z_ecg", -1, -1);
  const int64_t B = ze.shape(0), D = ze.shape(1);
  check_2d(zc, "z_cmr", B, D);
  check_2d(phi, "phi", B, -1);
  check_1d(m_ec, "m_ec", B);
  check_1d(m_ce, "m_ce", B);
  check_2d(d_ze, "d_ze", B, D);
  check_2d(d_zc, "d_zc", B, D);
  const int64_t P = phi.shape(1);
  const float *pe = ze.data(), *pc = zc.data(), *pp = phi.data(), *me = m_ec.data(), *mc = m_ce.data();
  float *ge = d_ze.mutable_data(), *gc = d_zc.mutable_data();
  py::gil_scoped_release release;
  cardionets::ops::weighted_infonce_backward(pe, pc, pp, B, D, P, sigma, tau, me, mc, grad, ge, gc);
}

}  // namespace

void register_ops(py::module_& m) {
  m.def("weighted_infonce_forward", &wi_forward, py::arg("z_ecg"), py::arg("z_cmr"), py::arg("phi"),
        py::arg("sigma"), py::arg("tau"), py::arg("m_ec"), py::arg("m_ce"),
        "Weighted InfoNCE forward on L2-normalised [B, D] embeddings and [B, P] phenotypes; writes the "
        "per-row / per-column log-terms into m_ec, m_ce ([B]) and returns the loss.");
  m.def("weighted_infonce_backward", &wi_backward, py::arg("z_ecg"), py::arg("z_cmr"), py::arg("phi"),
        py::arg("sigma"), py::arg("tau"), py::arg("m_ec"), py::arg("m_ce"), py::arg("grad"), py::arg("d_z_ecg"),
        py::arg("d_z_cmr"),
        "Weighted InfoNCE backward: writes d loss / d z_ecg and d loss / d z_cmr (normalised embeddings).");
}

}  // namespace cardionets::python
