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


cdef inline int dtype_kind(str dtype_name) except -1:
    # The kernel classes' code of a maxable_t dtype (MaxForward, AdaptiveCall): 0 float32,
    # 1 float64, then int8, uint8, int16, int32, int64 (uint16, uint32 and bool reach the kernels
    # widened or viewed as one of these, cypool._layout).
    return ("float32", "float64", "int8", "uint8", "int16", "int32", "int64").index(dtype_name)


cdef inline bint float_kind(str dtype_name, str kernel) except -1:
    # The floating_t kernels' switch (AvgCall, MaxBackward): 1 for float64, 0 for float32.
    if dtype_name == "float64":
        return 1
    if dtype_name != "float32":
        raise ValueError(f"{kernel}: unsupported dtype {dtype_name}")
    return 0
