// The private extension module cardionets._C. Python code uses it through typed facades
// (cardionets.native, cardionets.dsp, cardionets.ops.*), never directly.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "cardionets/core.h"

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "CardioNets native extension (C++ library cardionets_core behind pybind11)";
  // C++ errors surface as cardionets.errors.NativeError, a CardioNetsError.
  static py::object native_error = py::module_::import("cardionets.errors").attr("NativeError");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const cardionets::Error& e) {
      PyErr_SetString(native_error.ptr(), e.what());
    }
  });
  cardionets::python::register_core(m);
  cardionets::python::register_dsp(m);
  cardionets::python::register_io(m);
  cardionets::python::register_ops(m);
}
