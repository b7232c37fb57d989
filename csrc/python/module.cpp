// The private extension module cardionets._C. Python code uses it through typed facades
// (cardionets.native, cardionets.dsp, cardionets.ops.*), never directly.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "cardionets/core.h"

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "CardioNets native extension (C++ library cardionets_core behind pybind11)";
  // C++ errors surface as cardionets.errors classes (all CardioNetsError / NativeError):
  //   cardionets::Unsupported     -> NativeUnsupported   (valid input; read it another way)
  //   cardionets::LimitExceeded   -> NativeLimitExceeded (a documented resource limit)
  //   cardionets::Error           -> NativeError
  // Handles kept for the life of the process (a static py::object would be released after the
  // interpreter has shut down).
  const py::module_ errors = py::module_::import("cardionets.errors");
  static py::handle native_error = py::object(errors.attr("NativeError")).release();
  static py::handle unsupported = py::object(errors.attr("NativeUnsupported")).release();
  static py::handle limit = py::object(errors.attr("NativeLimitExceeded")).release();
  m.attr("NativeError") = native_error;
  m.attr("UnsupportedWfdb") = unsupported;
  m.attr("LimitExceeded") = limit;
  py::register_exception_translator([](std::exception_ptr p) {
    auto raise = [](py::handle type, const char* what) {
      PyErr_SetObject(type.ptr(), cardionets::python::utf8_message(what).ptr());
    };
    try {
      if (p) std::rethrow_exception(p);
    } catch (const cardionets::Unsupported& e) {
      raise(unsupported, e.what());
    } catch (const cardionets::LimitExceeded& e) {
      raise(limit, e.what());
    } catch (const cardionets::Error& e) {
      raise(native_error, e.what());
    }
  });
  cardionets::python::register_core(m);
  cardionets::python::register_dsp(m);
  cardionets::python::register_io(m);
  cardionets::python::register_ops(m);
}
