// cardionets/cardionets.h - the public C++ API of the CardioNets engine (no Python needed).
// Link against the static library: target cardionets::core (in-tree, or after
// find_package(cardionets CONFIG REQUIRED) on an installed prefix).
#pragma once

#include "cardionets/core.h"
#include "cardionets/dsp.h"
#include "cardionets/isa.h"
#include "cardionets/ops.h"
#include "cardionets/parallel.h"
#include "cardionets/wfdb.h"
#include "cardionets/xli.h"
