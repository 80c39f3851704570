namespace Caldera.Compiler.LinearAlgebra;

/// <summary>A (possibly truncated) SVD A ≈ U·diag(S)·Vᵀ: U m×r and V n×r with orthonormal columns, S descending.</summary>
internal sealed class SingularValueDecomposition
{
    public SingularValueDecomposition(Matrix<double> u, double[] s, Matrix<double> v)
    {
        if (u.Cols != s.Length || v.Cols != s.Length)
        {
            throw new ArgumentException($"U ({u.Rows}×{u.Cols}), S ({s.Length}) and V ({v.Rows}×{v.Cols}) ranks disagree.");
        }

        U = u;
        S = s;
        V = v;
    }

    public Matrix<double> U { get; }

    /// <summary>Singular values σ₁ ≥ σ₂ ≥ … ≥ 0.</summary>
    public double[] S { get; }

    public Matrix<double> V { get; }

    public int Rank => S.Length;

    /// <summary>Keeps the leading <paramref name="rank"/> triplets.</summary>
    public SingularValueDecomposition Truncate(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        if (rank >= Rank)
        {
            return this;
        }

        return new SingularValueDecomposition(U.Slice(0, U.Rows, 0, rank), S[..rank], V.Slice(0, V.Rows, 0, rank));
    }

    /// <summary>U·diag(S)·Vᵀ as a dense matrix.</summary>
    public Matrix<double> Reconstruct(int threads = 1)
    {
        Matrix<double> us = U.Clone();
        for (int i = 0; i < us.Rows; i++)
        {
            Span<double> row = us.Row(i);
            for (int j = 0; j < row.Length; j++)
            {
                row[j] *= S[j];
            }
        }

        return Gemm.Multiply(Op.N, us, Op.T, V, threads);
    }
}
