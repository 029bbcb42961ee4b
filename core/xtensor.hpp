// The one place that includes xtensor and xtensor-blas headers.
//
// Debian 12 ships xtensor 0.24 with flat include paths (xtensor/xarray.hpp); xtensor 0.26 moved
// them into subfolders (xtensor/containers/xarray.hpp). Every file of flowtape includes xtensor
// through this header, so a move to another xtensor version is a change in one file.
#pragma once

#if __has_include(<xtensor/containers/xtensor.hpp>)
#include <xtensor/containers/xadapt.hpp>
#include <xtensor/containers/xtensor.hpp>
#include <xtensor/core/xmath.hpp>
#include <xtensor/core/xnoalias.hpp>
#include <xtensor/views/xview.hpp>
#else
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xview.hpp>
#endif
