#include "core/types.hpp"

namespace flowtape {

std::string shape_string(Shape s) {
    return std::to_string(s[0]) + "\u00d7" + std::to_string(s[1]);
}

}  // namespace flowtape
