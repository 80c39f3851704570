using System.Numerics;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// The scalar register tile of <see cref="Gemm"/>: same packed layout and summation order as the vector tiles,
/// used where no vector unit is available and as the reference the vector tiles are tested against.
/// </summary>
internal static unsafe class GemmKernelScalar<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public const int MR = 4;

    public const int NR = 4;

    // C[0:4, 0:4] += α · Σ_p pa[p·4 + i] · pb[p·4 + j], each product fused into its accumulator.
    public static void Multiply(int kc, T* pa, T* pb, T* c, nint ldc, T alpha)
    {
        T* acc = stackalloc T[MR * NR];
        for (int t = 0; t < MR * NR; t++)
        {
            acc[t] = T.Zero;
        }

        for (int p = 0; p < kc; p++)
        {
            for (int i = 0; i < MR; i++)
            {
                for (int j = 0; j < NR; j++)
                {
                    acc[(i * NR) + j] = T.FusedMultiplyAdd(pa[i], pb[j], acc[(i * NR) + j]);
                }
            }

            pa += MR;
            pb += NR;
        }

        for (int i = 0; i < MR; i++)
        {
            for (int j = 0; j < NR; j++)
            {
                c[(i * ldc) + j] = T.FusedMultiplyAdd(acc[(i * NR) + j], alpha, c[(i * ldc) + j]);
            }
        }
    }
}
