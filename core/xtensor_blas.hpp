// The one place that includes xtensor-blas (BLAS gemm, LAPACK eigh). Only .cpp files that do
// matrix work include it, since it is slow to compile.
#pragma once

#include "core/xtensor.hpp"

#if __has_include(<xtensor-blas/xlinalg.hpp>)
#include <xtensor-blas/xblas.hpp>
#include <xtensor-blas/xlinalg.hpp>
#else
#error "flowtape needs xtensor-blas (Debian: libxtensor-blas-dev)"
#endif
