// One register_<area>() per binding file, all called from module.cpp.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

namespace cardionets::python {

void register_core(pybind11::module_& m);
void register_dsp(pybind11::module_& m);
void register_io(pybind11::module_& m);
void register_ops(pybind11::module_& m);

// A C++ message as a Python str: invalid UTF-8 (a file name's raw bytes) becomes U+FFFD instead
// of a UnicodeDecodeError.
inline pybind11::str utf8_message(const std::string& msg) {
  PyObject* s = PyUnicode_DecodeUTF8(msg.data(), static_cast<Py_ssize_t>(msg.size()), "replace");
  if (!s) throw pybind11::error_already_set();
  return pybind11::reinterpret_steal<pybind11::str>(s);
}

}  // namespace cardionets::python
