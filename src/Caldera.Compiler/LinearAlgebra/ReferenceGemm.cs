using System.Numerics;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// The textbook triple loop for C = α·op(A)·op(B) + β·C, each dot product accumulated in double. The oracle
/// <see cref="Gemm"/> is tested against; far too slow for real work.
/// </summary>
internal static class ReferenceGemm
{
    public static void Multiply<T>(
        Op opA, Op opB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    T aip = opA == Op.N ? a[(i * lda) + p] : a[(p * lda) + i];
                    T bpj = opB == Op.N ? b[(p * ldb) + j] : b[(j * ldb) + p];
                    sum += double.CreateTruncating(aip) * double.CreateTruncating(bpj);
                }

                double previous = beta == T.Zero ? 0 : double.CreateTruncating(beta) * double.CreateTruncating(c[(i * ldc) + j]);
                c[(i * ldc) + j] = T.CreateTruncating((double.CreateTruncating(alpha) * sum) + previous);
            }
        }
    }
}
