namespace Caldera.Runtime.Incoherence;

/// <summary>
/// Paley's Hadamard matrices from the quadratic character χ of GF(q), q a prime power.
/// </summary>
/// <remarks>
/// Jacobsthal matrix Q[i, j] = χ(eⱼ − eᵢ) (q×q, zero diagonal): Q·Qᵀ = q·I − J and Q·𝟙 = 0.
/// Paley I, q ≡ 3 (mod 4), order q+1: χ(−1) = −1 so Q is skew, and with the skew conference matrix
/// S = [[0, 𝟙ᵀ], [−𝟙, Q]] (S·Sᵀ = q·I), H = I + S gives H·Hᵀ = (q+1)·I.
/// Paley II, q ≡ 1 (mod 4), order 2(q+1): Q is symmetric, C = [[0, 𝟙ᵀ], [𝟙, Q]] is a symmetric conference
/// matrix, and H = C ⊗ [[1, 1], [1, −1]] + I ⊗ [[1, −1], [−1, −1]] gives H·Hᵀ = 2(q+1)·I.
/// </remarks>
internal static class PaleyConstruction
{
    /// <summary>The Paley I matrix of order q+1 (row-major ±1), or null when q+1 does not qualify.</summary>
    public static sbyte[]? TryTypeOne(int order)
    {
        GaloisField? field = GaloisField.TryCreate(order - 1);
        if (field is null || field.Order % 4 != 3) return null;
        sbyte[] s = Conference(field, skew: true);
        for (int i = 0; i < order; i++) s[i * order + i] = 1;
        return s;
    }

    /// <summary>The Paley II matrix of order 2(q+1), or null when order/2 − 1 does not qualify.</summary>
    public static sbyte[]? TryTypeTwo(int order)
    {
        if (order % 2 != 0) return null;
        GaloisField? field = GaloisField.TryCreate(order / 2 - 1);
        if (field is null || field.Order % 4 != 1) return null;
        sbyte[] c = Conference(field, skew: false);
        int half = order / 2;
        var h = new sbyte[order * order];
        for (int i = 0; i < half; i++)
            for (int j = 0; j < half; j++)
            {
                int v = c[i * half + j];
                // 0 (the diagonal) → [[1, −1], [−1, −1]]; ±1 → ±[[1, 1], [1, −1]].
                (int a, int b, int cc, int d) = v == 0 ? (1, -1, -1, -1) : (v, v, v, -v);
                h[(2 * i) * order + 2 * j] = (sbyte)a;
                h[(2 * i) * order + 2 * j + 1] = (sbyte)b;
                h[(2 * i + 1) * order + 2 * j] = (sbyte)cc;
                h[(2 * i + 1) * order + 2 * j + 1] = (sbyte)d;
            }
        return h;
    }

    /// <summary>[[0, 𝟙ᵀ], [∓𝟙, Q]] of order q+1 (−𝟙 when skew).</summary>
    private static sbyte[] Conference(GaloisField field, bool skew)
    {
        int q = field.Order, order = q + 1;
        var s = new sbyte[order * order];
        for (int j = 1; j < order; j++)
        {
            s[j] = 1;
            s[j * order] = (sbyte)(skew ? -1 : 1);
        }
        for (int i = 0; i < q; i++)
            for (int j = 0; j < q; j++)
                s[(i + 1) * order + j + 1] = (sbyte)field.Character(field.Subtract(j, i));
        return s;
    }
}
