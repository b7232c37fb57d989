// cardionets/cardionets.h - the public C++ API of the CardioNets engine (no Python needed).
// Link against the static library cardionets_core built by the project's CMake.
#pragma once

#include "cardionets/core.h"
#include "cardionets/dsp.h"
#include "cardionets/ops.h"
#include "cardionets/parallel.h"
#include "cardionets/wfdb.h"
