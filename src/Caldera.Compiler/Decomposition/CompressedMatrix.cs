using System.Numerics.Tensors;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Incoherence;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// A weight matrix W (m×n) in compressed form: Ŵ = g·diag(SV)·V_m·(Q + L·R)·U_nᵀ·diag(SU), where Q is coded by
/// <see cref="QQuantizer"/>, L and R are <see cref="Factors"/>, and the randomized Hadamard transforms are
/// absent (identity) for plain round-to-nearest baselines.
/// </summary>
internal sealed class CompressedMatrix
{
    internal CompressedMatrix(int rows, int columns, float globalScale, RandomizedHadamard? inputTransform,
        RandomizedHadamard? outputTransform, IMatrixQuantizer qQuantizer, QuantizedMatrix q, LowRankFactors factors,
        double relativeError)
    {
        Rows = rows;
        Columns = columns;
        GlobalScale = globalScale;
        InputTransform = inputTransform;
        OutputTransform = outputTransform;
        QQuantizer = qQuantizer;
        Q = q;
        Factors = factors;
        RelativeError = relativeError;
    }

    public int Rows { get; }
    public int Columns { get; }

    /// <summary>g = RMS(W).</summary>
    public float GlobalScale { get; }

    /// <summary>SU and U_n (n = <see cref="Columns"/>): u = U_nᵀ(SU ⊙ x).</summary>
    public RandomizedHadamard? InputTransform { get; }

    /// <summary>SV and V_m (m = <see cref="Rows"/>).</summary>
    public RandomizedHadamard? OutputTransform { get; }

    public IMatrixQuantizer QQuantizer { get; }

    /// <summary>Q's codes and scale, m×n.</summary>
    public QuantizedMatrix Q { get; }

    public LowRankFactors Factors { get; }

    /// <summary>√(tr(ΔHΔᵀ)/tr(WHWᵀ)) against the (damped) calibration Hessian, Δ = Ŵ − W.</summary>
    public double RelativeError { get; }

    /// <summary>
    /// Stored bits per weight: Q's codes, L's and R's codes (or halves), one bit per sign of SU/SV, the
    /// fallback orthogonal blocks when a dimension has no Hadamard block (fp32), and four fp32 scales.
    /// </summary>
    public double BitsPerWeight
    {
        get
        {
            // Lattice words are stored as they are; a uniform code is bit-packed (b bits per weight).
            double bits = QQuantizer is UniformMatrixQuantizer uniform
                ? uniform.BitsPerWeight * Rows * Columns
                : 16.0 * Q.Codes.LongLength;
            if (Factors.Rank > 0)
                bits += Factors.Bits == 4
                    ? 16.0 * (Factors.LTransposedCodes!.Codes.LongLength + Factors.RCodes!.Codes.LongLength)
                    : 16.0 * Factors.Rank * ((long)Rows + Columns);
            foreach (var t in new[] { InputTransform, OutputTransform })
            {
                if (t == null) continue;
                bits += t.Length;
                if (!t.Transform.IsHadamard) bits += 32.0 * t.Transform.Block.Length;
            }
            return (bits + 4 * 32) / ((double)Rows * Columns);
        }
    }

    /// <summary>
    /// The stored form the .cald format and the runtime compute with, under the canonical tensor name
    /// <paramref name="name"/>: the same codes, scales, factors (halves stay halves) and transforms.
    /// </summary>
    public CompressedLinearData ToLinearData(string name)
    {
        var (kind, bits) = QQuantizer switch
        {
            UniformMatrixQuantizer uniform => (QCodeKind.Uniform, uniform.Quantizer.Bits),
            LatticeMatrixQuantizer { Codebook: E8PCodebook } => (QCodeKind.E8P, 2),
            _ => throw new NotSupportedException($"{name}: Q quantized with {QQuantizer.GetType().Name} has no stored form; use E8P or a uniform code."),
        };
        bool lattice = Factors.Rank > 0 && Factors.Bits == 4, halves = Factors.Rank > 0 && Factors.Bits == 16;
        return new CompressedLinearData
        {
            Name = name,
            Rows = Rows,
            Columns = Columns,
            GlobalScale = GlobalScale,
            InputTransform = InputTransform is { } input ? TransformData.From(input) : null,
            OutputTransform = OutputTransform is { } output ? TransformData.From(output) : null,
            QKind = kind,
            QBits = bits,
            QCodes = Q.Codes,
            QWordsPerRow = Q.WordsPerRow,
            QScale = Q.Scale,
            Rank = Factors.Rank,
            FactorBits = Factors.Bits,
            LTransposedCodes = lattice ? Factors.LTransposedCodes!.Codes : default,
            LTransposedScale = lattice ? Factors.LTransposedCodes!.Scale : 0,
            RCodes = lattice ? Factors.RCodes!.Codes : default,
            RScale = lattice ? Factors.RCodes!.Scale : 0,
            L = halves ? ToHalves(Factors.L.Data) : default,
            R = halves ? ToHalves(Factors.R.Data) : default,
            RelativeError = RelativeError,
        };

        // The factors already hold half-rounded values, so this conversion is exact.
        static Half[] ToHalves(float[] values)
        {
            var result = new Half[values.Length];
            for (int i = 0; i < values.Length; i++) result[i] = (Half)values[i];
            return result;
        }
    }

    /// <summary>The dense Ŵ (m×n).</summary>
    public Matrix<float> Reconstruct(int threads = 1) => Reconstruct(withFactors: true, threads);

    /// <summary>The dense g·diag(SV)·V_m·Q·U_nᵀ·diag(SU): Ŵ without its low-rank part.</summary>
    public Matrix<float> ReconstructQ(int threads = 1) => Reconstruct(withFactors: false, threads);

    private Matrix<float> Reconstruct(bool withFactors, int threads)
    {
        var w = new Matrix<float>(Rows, Columns);
        QQuantizer.Dequantize(Q, w.Data);
        if (withFactors && Factors.Rank > 0)
            Gemm.Multiply(Op.N, Factors.L, Op.N, Factors.R, 1f, 1f, w, threads);
        InputTransform?.InverseTransformRows(w.Data, Rows);
        OutputTransform?.InverseTransformColumns(w.Data, Columns);
        TensorPrimitives.Multiply(w.Data, GlobalScale, w.Data);
        return w;
    }

    /// <summary>
    /// y = Ŵ·x from the codes, without materialising Ŵ: u = U_nᵀ(SU ⊙ x); z = Q·u + L·(R·u); y = g·SV ⊙ (V_m·z).
    /// A plain scalar kernel that decodes one row of Q, R or Lᵀ at a time.
    /// </summary>
    public void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.Length != Columns || y.Length != Rows)
            throw new ArgumentException($"x has {x.Length} entries and y {y.Length}; this matrix is {Rows}×{Columns}.");
        var u = new float[Columns];
        if (InputTransform != null) InputTransform.Forward(x, u);
        else x.CopyTo(u);

        var z = new float[Rows];
        var row = new float[Math.Max(Rows, Columns)];
        for (int i = 0; i < Rows; i++)
        {
            QQuantizer.DequantizeRow(Q, i, row);
            z[i] = Dot(row.AsSpan(0, Columns), u);
        }

        int k = Factors.Rank;
        if (k > 0)
        {
            var t = new float[k];
            for (int r = 0; r < k; r++)
            {
                if (Factors.RCodes is { } rCodes) LatticeMatrixQuantizer.E8PResidual.DequantizeRow(rCodes, r, row);
                else Factors.R.Row(r).CopyTo(row);
                t[r] = Dot(row.AsSpan(0, Columns), u);
            }
            // L·t = Σ_r t_r·(column r of L) = Σ_r t_r·(row r of Lᵀ).
            for (int r = 0; r < k; r++)
            {
                if (Factors.LTransposedCodes is { } lCodes) LatticeMatrixQuantizer.E8PResidual.DequantizeRow(lCodes, r, row);
                else
                    for (int i = 0; i < Rows; i++) row[i] = Factors.L[i, r];
                for (int i = 0; i < Rows; i++) z[i] += t[r] * row[i];
            }
        }

        if (OutputTransform != null) OutputTransform.Inverse(z, y);
        else z.CopyTo(y);
        for (int i = 0; i < Rows; i++) y[i] *= GlobalScale;
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += (double)a[i] * b[i];
        return (float)sum;
    }
}
