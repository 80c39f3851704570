using BenchmarkDotNet.Attributes;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Benchmarks.LinearAlgebra;

/// <summary>
/// Our SGEMM on the shapes a CALDERA decomposition of a 4096×4096 matrix at rank 64 calls, at 1 and 2 threads, so its
/// GEMM-shaped steps can be put against OpenBLAS's one-core SGEMM (≈ 180 GFLOP/s on this machine).
/// GFLOP/s = 2·m·n·k / time. Shapes (m×n×k, ops):
///   Square   4096×4096×4096 NN  tr(Δ·H·Δᵀ) error products, A·C of the LR initialisation, G = E·H of BlockLDLQ (137.4 GFLOP)
///   RH       64×4096×4096 NN    R·H, once per LR inner step (2.15 GFLOP)
///   AHRt     4096×64×4096 NT    A·(R·H)ᵀ as the LR step first formed it; now (R·H)·Aᵀ with Aᵀ stored, the RH shape (2.15 GFLOP)
///   LtA      64×4096×4096 NN    Lᵀ·A, once per LR inner step (2.15 GFLOP)
///   RHPacked 64×4096×4096 NN    R·H, (R·H)·Aᵀ and Lᵀ·A as the LR step now runs them: the big operand packed once
///                               (Gemm.Pack, outside the timing), only the skinny one packed per call (2.15 GFLOP)
///   Feedback 192×2048×128 NN    one window's feedback in BlockLDLQ's first pass, one 192-row panel, 1 thread (0.10 GFLOP)
///   Triangular 4096×4096×4096  A·C for C = chol(H) lower triangular (PackedLowerTriangular, packed outside the
///                               timing): the errors ‖Δ·C‖²_F and the LR initialisation (68.7 GFLOP of the square's 137.4)
/// Run: dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- --filter '*DecompositionGemmBenchmarks*'
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class DecompositionGemmBenchmarks
{
    private float[] a = null!, b = null!, c = null!;
    private int m, n, k, lda, ldb;
    private Op opB;
    private PackedGemmOperand<float>? packed;
    private PackedLowerTriangular<float>? triangle;

    [Params("Square", "Triangular", "RH", "RHPacked", "AHRt", "LtA", "Feedback")]
    public string Shape { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (m, n, k, opB) = Shape switch
        {
            "Square" or "Triangular" => (4096, 4096, 4096, Op.N),
            "RH" or "RHPacked" => (64, 4096, 4096, Op.N),
            "AHRt" => (4096, 64, 4096, Op.T),
            "LtA" => (64, 4096, 4096, Op.N),
            _ => (192, 2048, 128, Op.N),
        };
        lda = k;
        ldb = opB == Op.N ? n : k;
        var random = new Random(1);
        a = Random(random, m * k);
        b = Random(random, k * n);
        c = new float[m * n];
        packed = Shape == "RHPacked" ? Gemm.Pack(opB, k, n, b, ldb, Threads) : null;
        if (Shape == "Triangular")
        {
            for (int i = 0; i < k; i++) b.AsSpan(i * n + i + 1, n - i - 1).Clear();
            triangle = PackedLowerTriangular<float>.Pack(new Matrix<float>(k, n, b), Threads);
        }
    }

    [Benchmark]
    public void Sgemm()
    {
        if (triangle is not null) triangle.MultiplyRight(m, a, lda, c, n, Threads);
        else if (packed is null) Gemm.Multiply(Op.N, opB, m, n, k, 1f, a, lda, b, ldb, 0f, c, n, Threads);
        else Gemm.Multiply(Op.N, m, 1f, a, lda, packed, 0f, c, n, Threads);
    }

    private static float[] Random(Random random, int count)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(random.NextDouble() - 0.5);
        return x;
    }
}
