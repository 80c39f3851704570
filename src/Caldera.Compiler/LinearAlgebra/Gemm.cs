using System.Numerics;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// General matrix multiply C = α·op(A)·op(B) + β·C over row-major storage (SGEMM for <see cref="float"/>,
/// DGEMM for <see cref="double"/>: use double where conditioning needs it, e.g. Hessian-weighted products).
/// Packed and cache-blocked with a Vector512/Vector256 FMA register tile; <c>threads</c> workers split the
/// output, and the result is bitwise identical for every thread count.
/// </summary>
internal static unsafe class Gemm
{
    /// <summary>
    /// C = α·op(A)·op(B) + β·C with op(A): m×k, op(B): k×n, C: m×n. Element (i, j) of a row-major operand X with
    /// leading dimension ldx is <c>x[i·ldx + j]</c>; A is m×k (N) or k×m (T), B is k×n (N) or n×k (T).
    /// β = 0 overwrites C without reading it. C must not overlap A or B element-wise.
    /// </summary>
    public static void Multiply<T>(
        Op opA, Op opB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc, int threads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Multiply(GemmKernelKinds.Best, opA, opB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);

    /// <summary>C = α·op(A)·op(B) + β·C on whole matrices.</summary>
    public static void Multiply<T>(Op opA, Matrix<T> a, Op opB, Matrix<T> b, T alpha, T beta, Matrix<T> c, int threads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = opA == Op.N ? a.Rows : a.Cols;
        int k = opA == Op.N ? a.Cols : a.Rows;
        int kb = opB == Op.N ? b.Rows : b.Cols;
        int n = opB == Op.N ? b.Cols : b.Rows;
        if (k != kb || c.Rows != m || c.Cols != n)
        {
            throw new ArgumentException(
                $"op(A) is {m}×{k}, op(B) is {kb}×{n} and C is {c.Rows}×{c.Cols}: inner dimensions and C's shape must agree.");
        }

        Multiply(opA, opB, m, n, k, alpha, a.Data, a.Cols, b.Data, b.Cols, beta, c.Data, c.Cols, threads);
    }

    /// <summary>Returns op(A)·op(B) as a new matrix.</summary>
    public static Matrix<T> Multiply<T>(Op opA, Matrix<T> a, Op opB, Matrix<T> b, int threads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var c = new Matrix<T>(opA == Op.N ? a.Rows : a.Cols, opB == Op.N ? b.Cols : b.Rows);
        Multiply(opA, a, opB, b, T.One, T.Zero, c, threads);
        return c;
    }

    /// <summary>Returns A·B.</summary>
    public static Matrix<T> Multiply<T>(Matrix<T> a, Matrix<T> b, int threads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Multiply(Op.N, a, Op.N, b, threads);

    /// <summary>Packs op(B) (k×n; B is k×n for N, n×k for T, leading dimension ldb) for repeated products with it.</summary>
    public static PackedGemmOperand<T> Pack<T>(Op opB, int k, int n, ReadOnlySpan<T> b, int ldb, int threads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Pack(GemmKernelKinds.Best, opB, k, n, b, ldb, threads);

    /// <summary>Packs op(B) for repeated products with it.</summary>
    public static PackedGemmOperand<T> Pack<T>(Op opB, Matrix<T> b, int threads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
        => opB == Op.N ? Pack(opB, b.Rows, b.Cols, b.Data, b.Cols, threads) : Pack(opB, b.Cols, b.Rows, b.Data, b.Cols, threads);

    /// <summary>
    /// C = α·op(A)·B + β·C with B (k×n) packed by <see cref="Pack{T}(Op, int, int, ReadOnlySpan{T}, int, int)"/>: op(A) is m×k
    /// (A is m×k for N, k×m for T). Bitwise the result of the unpacked call on the same operands, for every thread count.
    /// </summary>
    public static void Multiply<T>(
        Op opA, int m, T alpha, ReadOnlySpan<T> a, int lda, PackedGemmOperand<T> b, T beta, Span<T> c, int ldc, int threads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(b);
        int n = b.Cols, k = b.Rows;
        Check<T>(b.Kind, threads, m, n, k);
        CheckOperand("A", a.Length, lda, opA == Op.N ? m : k, opA == Op.N ? k : m);
        CheckOperand("C", c.Length, ldc, m, n);
        fixed (T* pa = a)
        fixed (T* pb = b.Data)
        fixed (T* pc = c)
        {
            GemmDriver<T>.RunPacked(b.Kind, opA, m, n, k, alpha, pa, lda, pb, beta, pc, ldc, threads);
        }
    }

    /// <summary>Returns op(A)·B for a packed B.</summary>
    public static Matrix<T> Multiply<T>(Op opA, Matrix<T> a, PackedGemmOperand<T> b, int threads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(b);
        int m = opA == Op.N ? a.Rows : a.Cols;
        int k = opA == Op.N ? a.Cols : a.Rows;
        if (k != b.Rows)
        {
            throw new ArgumentException($"op(A) is {m}×{k} and the packed B is {b.Rows}×{b.Cols}: inner dimensions must agree.");
        }

        var c = new Matrix<T>(m, b.Cols);
        Multiply(opA, m, T.One, a.Data, a.Cols, b, T.Zero, c.Data, c.Cols, threads);
        return c;
    }

    /// <summary><see cref="Pack{T}(Op, Matrix{T}, int)"/> into storage of the length asked for (e.g. a buffer reused from an earlier pack).</summary>
    internal static PackedGemmOperand<T> Pack<T>(Op opB, Matrix<T> b, int threads, Func<long, T[]> storage)
        where T : unmanaged, IFloatingPointIeee754<T>
        => opB == Op.N
            ? Pack(GemmKernelKinds.Best, opB, b.Rows, b.Cols, b.Data, b.Cols, threads, storage)
            : Pack(GemmKernelKinds.Best, opB, b.Cols, b.Rows, b.Data, b.Cols, threads, storage);

    internal static PackedGemmOperand<T> Pack<T>(GemmKernelKind kind, Op opB, int k, int n, ReadOnlySpan<T> b, int ldb, int threads,
        Func<long, T[]>? storage = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<T>(kind, threads, 0, n, k);
        CheckOperand("B", b.Length, ldb, opB == Op.N ? k : n, opB == Op.N ? n : k);
        long length = GemmDriver<T>.PackedLength(kind, k, n);
        if (length > Array.MaxLength)
        {
            throw new ArgumentException($"a packed {k}×{n} operand needs {length} elements, more than one array can hold.");
        }

        var data = storage?.Invoke(length) ?? GC.AllocateUninitializedArray<T>((int)length);
        if (data.LongLength != length)
        {
            throw new ArgumentException($"the packed operand's storage has {data.LongLength} elements; it needs {length}.", nameof(storage));
        }

        fixed (T* pb = b)
        fixed (T* packed = data)
        {
            GemmDriver<T>.Pack(kind, opB, k, n, pb, ldb, packed, threads);
        }

        return new PackedGemmOperand<T>(kind, k, n, data);
    }

    internal static void Multiply<T>(
        GemmKernelKind kind, Op opA, Op opB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<T>(kind, threads, m, n, k);
        CheckOperand("A", a.Length, lda, opA == Op.N ? m : k, opA == Op.N ? k : m);
        CheckOperand("B", b.Length, ldb, opB == Op.N ? k : n, opB == Op.N ? n : k);
        CheckOperand("C", c.Length, ldc, m, n);

        fixed (T* pa = a)
        fixed (T* pb = b)
        fixed (T* pc = c)
        {
            GemmDriver<T>.Run(kind, opA, opB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, threads);
        }
    }

    private static void Check<T>(GemmKernelKind kind, int threads, int m, int n, int k)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
        {
            throw new NotSupportedException($"Gemm supports float and double, not {typeof(T).Name}.");
        }

        if (!GemmKernelKinds.IsSupported(kind))
        {
            throw new PlatformNotSupportedException($"the {kind} GEMM kernel needs hardware this machine lacks.");
        }

        Parallelism.ThrowIfInvalid(threads);
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
    }

    // A rows×cols operand with leading dimension ld needs ld ≥ cols and (rows−1)·ld + cols elements (64-bit math).
    private static void CheckOperand(string name, int length, int ld, int rows, int cols)
    {
        if (ld < Math.Max(cols, 1))
        {
            throw new ArgumentException($"{name}: leading dimension {ld} is smaller than its {cols} columns.");
        }

        long needed = rows == 0 || cols == 0 ? 0 : ((long)(rows - 1) * ld) + cols;
        if (length < needed)
        {
            throw new ArgumentException(
                $"{name}: a {rows}×{cols} operand with leading dimension {ld} needs {needed} elements, the span has {length}.");
        }
    }
}
