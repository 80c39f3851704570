using System.Numerics.Tensors;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Runtime.Compression;

namespace Caldera.Compiler.Pipeline;

/// <summary>
/// The top singular values of W and of W − Q (Q as reconstructed in W's basis) for <c>caldera report</c>, by
/// randomized SVD: O(m·n·ℓ) per matrix with ℓ = k + 8 and four power iterations, a small fraction of what the
/// decomposition itself costs. Seeded, so a rerun (or a resumed compression) stores the same values.
/// </summary>
internal static class SpectrumSketch
{
    private const int Oversampling = 8;
    private const int PowerIterations = 4;
    private const ulong Seed = 0x5bec7;

    public static MatrixSpectrum Of(Matrix<float> w, CompressedMatrix compressed, int threads)
    {
        var residual = compressed.ReconstructQ(threads);
        TensorPrimitives.Subtract(w.Data, residual.Data, residual.Data);
        return new MatrixSpectrum(Top(w, threads), Top(residual, threads));
    }

    private static float[] Top(Matrix<float> a, int threads)
    {
        int k = Math.Min(MatrixSpectrum.TopCount, Math.Min(a.Rows, a.Cols));
        var wide = new Matrix<double>(a.Rows, a.Cols);
        for (int i = 0; i < a.Data.Length; i++) wide.Data[i] = a.Data[i];
        var svd = RandomizedSvd.Decompose(wide, k, Oversampling, PowerIterations, Seed, threads);
        return [.. svd.S.Take(k).Select(s => (float)s)];
    }
}
