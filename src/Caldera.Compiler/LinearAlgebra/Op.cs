namespace Caldera.Compiler.LinearAlgebra;

/// <summary>The op(X) of a GEMM operand: X itself (N) or its transpose Xᵀ (T), as in BLAS.</summary>
internal enum Op
{
    N,
    T,
}
