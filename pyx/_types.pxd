# Shared fused types. Max-type reductions accept integers (morphology users pool uint8 masks);
# averages are defined for floating types only.
from libc.stdint cimport int8_t, uint8_t, int16_t, int32_t, int64_t
from libc.math cimport INFINITY

ctypedef fused floating_t:
    float
    double

ctypedef fused maxable_t:
    float
    double
    int8_t
    uint8_t
    int16_t
    int32_t
    int64_t


cdef inline maxable_t lowest(maxable_t* tag) noexcept nogil:
    # The identity of max: -inf for floats, the type's minimum for integers (as PyTorch).
    if maxable_t is float or maxable_t is double:
        return -INFINITY
    elif maxable_t is int8_t:
        return -128
    elif maxable_t is uint8_t:
        return 0
    elif maxable_t is int16_t:
        return -32768
    elif maxable_t is int32_t:
        return -2147483648
    else:
        return -9223372036854775807 - 1
