namespace Caldera.Runtime.Training.Adapters;

/// <summary>
/// The trained top ranks of one compressed matrix: L_tᵀ (r×m) and R_t (r×n) in the matrix's transformed basis, which
/// replace ranks 0..r−1 of its factors: z = Q·u + L_f·(R_f·u) + L_t·(R_t·u).
/// </summary>
internal sealed record AdapterMatrix(string Name, int Rows, int Columns, int Rank, float[] LTransposed, float[] R)
{
    public string? FindProblem()
    {
        if (Rows < 1 || Columns < 1 || Rank < 1 || Rank > Math.Min(Rows, Columns)) return $"{Name}: shape {Rows}×{Columns} with rank {Rank} is inconsistent";
        if (LTransposed.Length != (long)Rank * Rows || R.Length != (long)Rank * Columns) return $"{Name}: factor lengths do not match rank {Rank} and shape {Rows}×{Columns}";
        foreach (float v in LTransposed) if (!float.IsFinite(v)) return $"{Name}: L holds {v}";
        foreach (float v in R) if (!float.IsFinite(v)) return $"{Name}: R holds {v}";
        return null;
    }
}
