// One register_<area>() per binding file, all called from module.cpp.
#pragma once

#include <pybind11/pybind11.h>

namespace cardionets::python {

void register_core(pybind11::module_& m);
void register_dsp(pybind11::module_& m);
void register_io(pybind11::module_& m);
void register_ops(pybind11::module_& m);

}  // namespace cardionets::python
