// The exceptions flowtape throws. Every message names what went wrong and where (the op and the
// shapes; the file, line and column), so one line is enough to act on.
#pragma once

#include <stdexcept>
#include <string>

namespace flowtape {

// Base of every flowtape exception: catch this to handle them all.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Shapes that do not fit an op: "matmul: shapes 3×4 and 5×2 do not fit (inner sizes 4 and 5)".
class ShapeError : public Error {
public:
    using Error::Error;
};

// A bad argument value: an empty tensor where data is needed, a negative size, an unknown name.
class ValueError : public Error {
public:
    using Error::Error;
};

// The tape used wrongly: a stale Var after reset(), backward twice, a parameter on two tapes.
class TapeError : public Error {
public:
    using Error::Error;
};

// A value or gradient that is NaN or infinite (anomaly mode, diverging fits).
class NonFiniteError : public Error {
public:
    using Error::Error;
};

// A file that cannot be read or written, or whose content is malformed.
class IoError : public Error {
public:
    using Error::Error;
};

}  // namespace flowtape

namespace flowtape {

// An ODE solve that cannot go on: the step limit reached (a stiff problem), the step size below its
// minimum (a singularity). The message names the solver, the time, the step and the state's norm.
class SolverError : public Error {
public:
    using Error::Error;
};

}  // namespace flowtape
